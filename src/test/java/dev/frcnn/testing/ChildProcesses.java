package dev.frcnn.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Watching the child JVMs that {@link ChildJvm} starts: waiting for a line of their log, finding a data-parallel
 * launcher's worker by rank, and a free port for a rendezvous.
 */
public final class ChildProcesses {
    private ChildProcesses() {}

    /** @return a TCP port free on this machine now (for {@code MASTER_PORT}) */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * Waits until {@code log} holds {@code text} (the child is past that point), failing if the child ends first or
     * after 3 minutes; the failure shows the log.
     */
    public static void awaitLine(Process p, Path log, String text) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            if (Files.isRegularFile(log) && Files.readString(log).contains(text)) return;
            assertThat(p.isAlive()).as("the child is still running while waiting for '%s': %s", text,
                    Files.isRegularFile(log) ? Files.readString(log) : "").isTrue();
            Thread.sleep(10);
        }
        throw new AssertionError("no line '" + text + "' within 3 minutes: " + Files.readString(log));
    }

    /**
     * The worker of {@code rank} among the children of a launcher ({@code train --nproc-per-node}), by the
     * {@code RANK} variable of its environment ({@code /proc/PID/environ}).
     *
     * @param workers the launcher's children there must be
     */
    public static ProcessHandle workerOfRank(Process launcher, int rank, int workers) throws IOException {
        List<ProcessHandle> children = launcher.toHandle().children().toList();
        assertThat(children).hasSize(workers);
        for (ProcessHandle w : children) {
            String env = Files.readString(Path.of("/proc/" + w.pid() + "/environ")).replace('\0', '\n');
            if (env.lines().anyMatch(("RANK=" + rank)::equals)) return w;
        }
        throw new AssertionError("no worker of rank " + rank + " among " + children);
    }
}
