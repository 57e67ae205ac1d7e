package dev.frcnn.cli;

import dev.frcnn.train.StopRequest;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code bin/frcnn train --nproc-per-node N}: {@code torchrun}'s role for one machine of a data-parallel job. It
 * starts {@code N} worker JVMs on this machine, each running the same {@code train} command line without the launcher
 * options ({@link #workerArgs}), with the environment {@code torchrun} gives its workers ({@link #environment}):
 * {@code MASTER_ADDR}, {@code MASTER_PORT}, {@code WORLD_SIZE} ({@code nnodes * N}), {@code RANK}
 * ({@code nodeRank * N + localRank}) and {@code LOCAL_RANK}. The workers inherit the launcher's stdin, stdout and
 * stderr, so a worker's own {@code frcnn:} line (its failure) is printed as it writes it.
 *
 * <p>When a worker exits with a code other than 0 or a graceful stop's, the launcher stops the others (SIGTERM, then
 * SIGKILL after {@link #GRACE_SECONDS} s) and exits with 1 after one line that names the worker's rank, its process
 * id and the cause: its exit code, or the signal that killed it. When every worker exits with 0, so does the launcher.
 * A worker that dies on another machine makes this machine's workers fail at their next collective, which ends them
 * here. SIGTERM or SIGINT to the launcher stops the job gracefully, like a signal to any one worker: every rank stops
 * after the same step, rank 0 saves {@code last.ckpt}, and the exit code is 143 or 130 ({@link #run}).
 */
final class WorkerLauncher {
    /** Seconds between SIGTERM and SIGKILL when the launcher stops its workers. */
    static final int GRACE_SECONDS = 10;

    /** How often the launcher looks at its signal and its deadline while it waits for the workers. */
    private static final long POLL_MILLIS = 200;

    /** The launcher's own options (torchrun's names), which the workers' command lines leave out. */
    static final Set<String> LAUNCHER_OPTIONS = Set.of("--nproc-per-node", "--nnodes", "--node-rank",
            "--master-addr", "--master-port");

    /**
     * Where this machine's workers stand in the job (torchrun's options).
     *
     * @param nprocPerNode workers on this machine, at least 1
     * @param nnodes machines in the job, at least 1
     * @param nodeRank this machine's rank, 0..nnodes-1 (machine 0 runs global rank 0 and its store)
     * @param masterAddr the address of machine 0, which every worker can reach
     * @param masterPort the port of rank 0's store on machine 0, 1..65535
     */
    record Job(int nprocPerNode, int nnodes, int nodeRank, String masterAddr, int masterPort) {
        /**
         * The problems of the options, each naming the option and what is expected; empty when the job is valid.
         */
        List<String> problems() {
            List<String> p = new ArrayList<>();
            if (nprocPerNode < 1) p.add("--nproc-per-node " + nprocPerNode + ": expected at least 1 worker");
            if (nnodes < 1) p.add("--nnodes " + nnodes + ": expected at least 1 machine");
            else if (nodeRank < 0 || nodeRank >= nnodes)
                p.add("--node-rank " + nodeRank + ": expected 0.." + (nnodes - 1) + " (--nnodes " + nnodes + ")");
            if (masterAddr == null || masterAddr.isBlank()) p.add("--master-addr: expected the address of machine 0");
            if (masterPort < 1 || masterPort > 65535)
                p.add("--master-port " + masterPort + ": expected a TCP port in 1..65535");
            return p;
        }

        /** {@code nnodes * nprocPerNode}. */
        int worldSize() {
            return nnodes * nprocPerNode;
        }

        /** The global rank of local worker {@code localRank}: {@code nodeRank * nprocPerNode + localRank}. */
        int rank(int localRank) {
            return nodeRank * nprocPerNode + localRank;
        }
    }

    private WorkerLauncher() {}

    /**
     * The workers' arguments: {@code args} without the launcher's options ({@link #LAUNCHER_OPTIONS}, written
     * {@code --opt value} or {@code --opt=value}); everything else, {@code --dist-timeout} included, stays in order.
     *
     * @param args the launcher's arguments after the command name
     * @return a new list
     */
    static List<String> workerArgs(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            int eq = a.indexOf('=');
            String name = eq < 0 ? a : a.substring(0, eq);
            if (LAUNCHER_OPTIONS.contains(name)) {
                if (eq < 0) i++; // its value
                continue;
            }
            out.add(a);
        }
        return out;
    }

    /**
     * The environment of local worker {@code localRank}: torchrun's five variables.
     *
     * @return MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK in that order
     */
    static Map<String, String> environment(Job job, int localRank) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("MASTER_ADDR", job.masterAddr());
        env.put("MASTER_PORT", String.valueOf(job.masterPort()));
        env.put("WORLD_SIZE", String.valueOf(job.worldSize()));
        env.put("RANK", String.valueOf(job.rank(localRank)));
        env.put("LOCAL_RANK", String.valueOf(localRank));
        return env;
    }

    /**
     * The command that started this JVM up to, not including, its last {@code argCount} arguments: the {@code java}
     * executable, its options, class path and main class ({@link ProcessHandle.Info}); or, where the platform does
     * not tell, this JDK's {@code java} with the class path and {@link Main}.
     */
    static List<String> thisJvm(int argCount) {
        ProcessHandle.Info info = ProcessHandle.current().info();
        Optional<String> cmd = info.command();
        Optional<String[]> argv = info.arguments();
        if (cmd.isPresent() && argv.isPresent() && argv.get().length >= argCount) {
            List<String> c = new ArrayList<>(List.of(cmd.get()));
            c.addAll(List.of(argv.get()).subList(0, argv.get().length - argCount));
            return c;
        }
        return new ArrayList<>(List.of(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
    }

    /**
     * Starts the workers and waits for them.
     *
     * <p>A stop on request: SIGTERM or SIGINT to the launcher ({@link StopSignals}) is passed to every worker as
     * SIGTERM, and a worker that ends with a stop's exit code ({@link #isStopCode}: 130 or 143, the codes of a
     * graceful stop) makes the launcher wait for the others instead of stopping them, since they stop at the same step
     * boundary on their own ({@code train.DistributedStop}; rank 0 saves {@code last.ckpt}). Either way the launcher
     * waits up to {@link StopSignals#STOP_TIMEOUT} plus {@link #GRACE_SECONDS} for every worker, then ends those
     * left (one line naming them, exit 1). When all have ended with 0 or a stop's code, the launcher exits with 128
     * plus its own signal's number if it was signalled, else with the workers' stop code.
     *
     * @param jvm the command before the arguments ({@link #thisJvm})
     * @param args the workers' arguments, the command name first ({@code train ...})
     * @param err where the launcher's line goes
     * @return 0 when every worker exits with 0; 130 or 143 after a stop on request; 1 after a worker failed (then
     *     every worker has ended)
     * @throws IOException if a worker cannot be started (those already started are stopped)
     * @throws InterruptedException if interrupted while waiting (the workers are stopped)
     */
    static int run(Job job, List<String> jvm, List<String> args, PrintStream err)
            throws IOException, InterruptedException {
        int n = job.nprocPerNode();
        List<Process> workers = new ArrayList<>();
        Thread stopAll = new Thread(() -> stop(workers), "frcnn-launcher-stop");
        Runtime.getRuntime().addShutdownHook(stopAll);
        StopRequest signalled = new StopRequest();
        Duration stopWait = StopSignals.STOP_TIMEOUT.plusSeconds(GRACE_SECONDS);
        try (StopSignals signals = StopSignals.install(signalled, err, stopWait.plusSeconds(GRACE_SECONDS),
                "the workers are finishing their step (rank 0 saves last.ckpt); SIGKILL to the launcher leaves them "
                        + "running")) {
            for (int local = 0; local < n; local++) {
                List<String> cmd = new ArrayList<>(jvm);
                cmd.addAll(args);
                // inherited, not piped: the JDK drains a pipe when the process exits, and the last lines written
                // just before the exit (a worker's own failure line) were seen to be lost that way
                ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
                pb.environment().putAll(environment(job, local));
                Process p;
                try {
                    p = pb.start();
                } catch (IOException e) {
                    stop(workers);
                    throw new IOException("cannot start worker rank " + job.rank(local) + ": " + e.getMessage(), e);
                }
                workers.add(p);
            }
            boolean[] ended = new boolean[n];
            int left = n;
            int stopCode = 0; // the workers' stop code once the job stops on request
            long stopDeadline = 0;
            boolean forwarded = false;
            String firstStop = null;
            while (left > 0) {
                if (!forwarded && signalled.isRequested()) {
                    forwarded = true;
                    err.println("frcnn: " + signalled.reason().cause() + ": stopping the workers of this machine at "
                            + "their next step (rank 0 saves last.ckpt)");
                    err.flush();
                    for (Process p : workers) if (p.isAlive()) p.destroy();
                    if (stopCode == 0) stopDeadline = System.nanoTime() + stopWait.toNanos();
                    stopCode = signalled.reason().exitCode();
                }
                for (int local = 0; local < n; local++) {
                    Process p = workers.get(local);
                    if (ended[local] || p.isAlive()) continue;
                    ended[local] = true;
                    left--;
                    int code = p.exitValue();
                    if (code == 0) continue;
                    if (isStopCode(code)) {
                        if (stopCode == 0) {
                            stopCode = code;
                            stopDeadline = System.nanoTime() + stopWait.toNanos();
                        }
                        if (firstStop == null) firstStop = "rank " + job.rank(local) + " (pid " + p.pid()
                                + ") had stopped with exit code " + code;
                        continue;
                    }
                    stop(workers);
                    err.println("frcnn: rank " + job.rank(local) + " of " + job.worldSize() + " (pid " + p.pid() + ") "
                            + cause(code) + "; stopped the other workers of this machine"
                            + (firstStop == null ? "" : " (" + firstStop + ")"));
                    err.flush();
                    return 1;
                }
                if (left == 0) break;
                if (stopCode != 0 && System.nanoTime() - stopDeadline > 0) {
                    List<String> late = new ArrayList<>();
                    for (int local = 0; local < n; local++) {
                        if (!ended[local]) late.add("rank " + job.rank(local) + " (pid " + workers.get(local).pid() + ")");
                    }
                    stop(workers);
                    err.println("frcnn: " + String.join(", ", late) + " did not stop within " + stopWait.toSeconds()
                            + " s of the stop; ended them");
                    err.flush();
                    return 1;
                }
                try {
                    CompletableFuture.anyOf(workers.stream().filter(Process::isAlive).map(Process::onExit)
                            .toArray(CompletableFuture[]::new)).get(POLL_MILLIS, TimeUnit.MILLISECONDS);
                } catch (TimeoutException | ExecutionException e) {
                    // poll again: the signal, the deadline
                }
            }
            return stopCode;
        } catch (InterruptedException e) {
            stop(workers);
            throw e;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(stopAll);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running
            }
        }
    }

    /** 130 and 143: a worker's graceful stop on SIGINT or SIGTERM (the same codes as a JVM those signals ended). */
    static boolean isStopCode(int code) {
        return code == 130 || code == 143;
    }

    /** "exited with code C", or "was killed by signal S" for the codes above 128 that the JDK reports for signals. */
    static String cause(int code) {
        if (code > 128 && code < 128 + 65) return "was killed by signal " + (code - 128) + " (exit code " + code + ")";
        return "exited with code " + code;
    }

    /** SIGTERM to every live worker, then SIGKILL to those alive after {@link #GRACE_SECONDS} s. */
    private static void stop(List<Process> workers) {
        List<Process> live = new ArrayList<>(workers);
        for (Process p : live) if (p.isAlive()) p.destroy();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GRACE_SECONDS);
        for (Process p : live) {
            try {
                p.onExit().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException | ExecutionException e) {
                p.destroyForcibly();
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
