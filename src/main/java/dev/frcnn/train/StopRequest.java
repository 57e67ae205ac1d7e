package dev.frcnn.train;

import java.util.concurrent.atomic.AtomicReference;

/**
 * A request to stop training gracefully, set from any thread (a signal handler, a test; under data parallelism the
 * signal handler of the rank that receives the signal, and {@link DistributedStop} shares it with the others) and polled by {@link TrainLoop} between steps and between the
 * images of an evaluation. On a request the loop finishes the step in progress, saves {@code last.ckpt} at the
 * position reached (with the best mAP and epoch that match {@code best.ckpt}) and throws
 * {@link TrainingStoppedException}. Only the first request counts; later ones are ignored, so a second signal never
 * interrupts the save.
 *
 * <p>Thread-safe. One instance per run; {@link #none()} gives one that nobody will request.
 */
public final class StopRequest {
    /**
     * Why training stops, as reported to the user.
     *
     * @param cause short name of the cause, e.g. {@code SIGTERM}
     * @param exitCode the exit code the command should end with, e.g. 143 (128 + 15) for SIGTERM
     */
    public record Reason(String cause, int exitCode) {
        /** @throws IllegalArgumentException if cause is blank */
        public Reason {
            if (cause == null || cause.isBlank()) throw new IllegalArgumentException("a stop needs a cause");
        }
    }

    private final AtomicReference<Reason> reason = new AtomicReference<>();

    /** @return a request that nobody holds, for runs that cannot be stopped from outside */
    public static StopRequest none() {
        return new StopRequest();
    }

    /**
     * Asks the loop to stop at its next step boundary.
     *
     * @return true if this was the first request (false: a stop was already requested; the first reason stays)
     */
    public boolean request(Reason why) {
        if (why == null) throw new IllegalArgumentException("a stop needs a reason");
        return reason.compareAndSet(null, why);
    }

    /** @return whether a stop was requested */
    public boolean isRequested() {
        return reason.get() != null;
    }

    /** @return the first request's reason, or null if none */
    public Reason reason() {
        return reason.get();
    }
}
