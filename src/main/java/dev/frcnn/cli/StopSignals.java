package dev.frcnn.cli;

import dev.frcnn.train.StopRequest;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.PrintStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * While training runs, SIGTERM (what a scheduler, a container runtime or torchrun sends) and SIGINT (Ctrl-C) request
 * a graceful stop instead of ending the JVM: {@link StopRequest#request} with the cause {@code SIGTERM} or
 * {@code SIGINT} and the exit code 128 + the signal's number (143, 130). The training loop finishes the step in
 * progress, saves {@code last.ckpt} and throws; the command prints one line and returns that exit code through
 * {@link Main} like any other. A second signal during the stop prints one line and is otherwise ignored, so it
 * cannot interrupt the save (which is atomic anyway: temporary file, fsync, rename); within {@link #ECHO_WINDOW} of
 * the first it prints nothing (Ctrl-C reaches every process of the terminal's group, and a launcher forwards its
 * own signal to its workers: a worker gets both). If the stop has not finished
 * {@link #STOP_TIMEOUT} after the first signal (a hung native call), the JVM halts with the same exit code; the
 * previous {@code last.ckpt} is then intact. {@link #close()} restores the JVM's own handlers, so a signal after
 * training (e.g. during the demo's evaluation) ends the JVM at once, as before.
 *
 * <p>Why {@code sun.misc.Signal} (module {@code jdk.unsupported}, a supported-in-practice API the JDK keeps for
 * exactly this use) rather than a shutdown hook: a hook runs only once the JVM has begun to exit, cannot tell
 * SIGTERM from SIGINT (or from {@code System.exit}), so it could not print which signal stopped the run; the JVM
 * exits as soon as the hooks return, so the hook would have to block while the training thread saves, racing the
 * other hooks (the progress bar's, the logging's) and the main thread's own {@code System.exit}, which blocks
 * forever once shutdown has begun. With a signal handler the stop is an ordinary return from the command. Where the
 * JVM refuses the handler (e.g. a signal reserved by the VM), the signal keeps its default effect: the JVM exits,
 * and the last periodic checkpoint is what remains, as before this class.
 */
final class StopSignals implements AutoCloseable {
    /** How long after the first signal the JVM waits for the step and the save before it halts. */
    static final Duration STOP_TIMEOUT = Duration.ofMinutes(5);

    /** A second signal this soon after the first is taken for a copy of it and passes without a line. */
    static final Duration ECHO_WINDOW = Duration.ofSeconds(1);

    private static final Map<String, Integer> SIGNALS = Map.of("TERM", 15, "INT", 2);

    private final StopRequest stop;
    private final PrintStream err;
    private final Duration haltAfter;
    private final String whileStopping;
    private final Map<Signal, SignalHandler> previous = new LinkedHashMap<>();
    private volatile boolean closed;
    private volatile long firstNanos;

    private StopSignals(StopRequest stop, PrintStream err, Duration haltAfter, String whileStopping) {
        this.stop = stop;
        this.err = err;
        this.haltAfter = haltAfter;
        this.whileStopping = whileStopping;
    }

    /**
     * Installs the handlers of SIGTERM and SIGINT that request {@code stop}; close the result when training ends.
     *
     * @param err where the line about a repeated signal or a halt goes
     */
    static StopSignals install(StopRequest stop, PrintStream err) {
        return install(stop, err, STOP_TIMEOUT, "still finishing the step and saving last.ckpt; SIGKILL stops at "
                + "once (the previous last.ckpt stays intact)");
    }

    /**
     * As {@link #install(StopRequest, PrintStream)}, for a process that is not the training itself (the launcher).
     *
     * @param haltAfter how long after the first signal the JVM halts if it is still running
     * @param whileStopping the line's text after {@code frcnn: SIGxxx again: } for a later signal
     */
    static StopSignals install(StopRequest stop, PrintStream err, Duration haltAfter, String whileStopping) {
        StopSignals s = new StopSignals(stop, err, haltAfter, whileStopping);
        for (String name : SIGNALS.keySet().stream().sorted().toList()) {
            try {
                Signal sig = new Signal(name);
                s.previous.put(sig, Signal.handle(sig, s::handle));
            } catch (IllegalArgumentException | UnsupportedOperationException reserved) {
                // The VM keeps this signal (e.g. -Xrs or an agent): it keeps its default effect.
            }
        }
        return s;
    }

    private void handle(Signal sig) {
        String cause = "SIG" + sig.getName();
        int code = 128 + SIGNALS.getOrDefault(sig.getName(), sig.getNumber());
        if (stop.request(new StopRequest.Reason(cause, code))) {
            firstNanos = System.nanoTime();
            Thread watchdog = new Thread(() -> halt(cause, code), "frcnn-stop-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        } else if (!closed && System.nanoTime() - firstNanos >= ECHO_WINDOW.toNanos()) {
            err.println("frcnn: " + cause + " again: " + whileStopping);
        }
    }

    private void halt(String cause, int code) {
        try {
            Thread.sleep(haltAfter.toMillis());
        } catch (InterruptedException e) {
            return;
        }
        if (closed) return;
        err.println("frcnn: training did not stop within " + haltAfter.toSeconds() + " s of " + cause
                + "; exiting without a new checkpoint (the previous last.ckpt is intact)");
        err.flush();
        Runtime.getRuntime().halt(code);
    }

    /** Restores the handlers that were in force before {@link #install}. */
    @Override
    public void close() {
        closed = true;
        for (Map.Entry<Signal, SignalHandler> e : previous.entrySet()) {
            try {
                Signal.handle(e.getKey(), e.getValue());
            } catch (IllegalArgumentException | UnsupportedOperationException ignored) {
                // cannot happen for a signal we handled; nothing else to restore
            }
        }
    }
}
