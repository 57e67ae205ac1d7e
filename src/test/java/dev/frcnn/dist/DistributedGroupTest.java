package dev.frcnn.dist;

import dev.frcnn.testing.ChildJvm;
import dev.frcnn.testing.ChildProcesses;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link DistributedGroup} over c10d's Gloo between real processes: child JVMs running {@link AllReduceProbe} on
 * loopback with the environment {@code torchrun} would give them.
 */
class DistributedGroupTest {
    /** The rendezvous timeout of the failing jobs. */
    private static final int SHORT_TIMEOUT_S = 5;
    /** JVM start and LibTorch's load before the join, plus the exit: generous on a loaded 2-core machine. */
    private static final int STARTUP_ALLOWANCE_S = 30;

    @TempDir
    Path dir;

    @Test
    void twoProcessesAllReduceAndBroadcastThroughGloo() throws Exception {
        int port = ChildProcesses.freePort();
        Probe r0 = start(port, 2, 0, "60", "collectives");
        Probe r1 = start(port, 2, 1, "60", "collectives");
        String out0 = finish(r0), out1 = finish(r1);
        for (int r = 0; r < 2; r++) {
            String out = r == 0 ? out0 : out1;
            assertThat(r == 0 ? r0.exitValue() : r1.exitValue()).as(out).isZero();
            // rank r holds (r+1) * [1, 10, -0.5]: the sum over ranks 0 and 1 is 3 * [1, 10, -0.5]
            assertThat(out).as(out).contains("rank " + r + " sum [3.0, 30.0, -1.5]\n")
                    .contains("rank " + r + " sum-long [3, 2199023255552]\n")
                    .contains("rank " + r + " mean [1.5, 0.0]\n")
                    .contains("rank " + r + " broadcast-0 [100.0, 101.0, 102.0, 103.0]\n")
                    .contains("rank " + r + " broadcast-last [8.0]\n")
                    .contains("rank " + r + " done\n");
        }
    }

    /**
     * Two jobs of world size 2 that cannot complete: one where only rank 1 starts (nobody serves the store at
     * {@code MASTER_PORT}), one where only rank 0 starts (nobody connects to its store). Each ends with exit 1 after
     * the timeout, not later, with one line naming its rank and what it waited for. They run side by side.
     */
    @Test
    void aRendezvousThatCannotCompleteEndsWithExit1WithinTheTimeout() throws Exception {
        int lonelyClientPort, lonelyServerPort;
        try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0)) { // two different ports
            lonelyClientPort = a.getLocalPort();
            lonelyServerPort = b.getLocalPort();
        }
        long t0 = System.nanoTime();
        Probe client = start(lonelyClientPort, 2, 1, String.valueOf(SHORT_TIMEOUT_S), "collectives");
        Probe server = start(lonelyServerPort, 2, 0, String.valueOf(SHORT_TIMEOUT_S), "collectives");
        String clientOut = finish(client), serverOut = finish(server);
        long wallS = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);

        assertThat(client.exitValue()).as(clientOut).isEqualTo(1);
        assertThat(server.exitValue()).as(serverOut).isEqualTo(1);
        assertThat(wallS).as("both ended").isLessThan(SHORT_TIMEOUT_S + STARTUP_ALLOWANCE_S);
        for (String out : List.of(clientOut, serverOut)) {
            long failedAfter = millisAfter(out, "failed");
            assertThat(failedAfter).as(out).isBetween(SHORT_TIMEOUT_S * 1000L - 1000, SHORT_TIMEOUT_S * 1000L + 1500);
        }
        assertThat(ourLines(clientOut, 1)).as(clientOut).containsExactly("rank 1 of 2: rendezvous with 127.0.0.1:"
                + lonelyClientPort + " did not complete within " + SHORT_TIMEOUT_S + " s (connecting to rank 0's store at 127.0.0.1:"
                + lonelyClientPort + ")");
        assertThat(ourLines(serverOut, 0)).as(serverOut).hasSize(1).first().asString()
                .startsWith("rank 0 of 2: rendezvous with 127.0.0.1:" + lonelyServerPort + " ")
                .contains("waiting for 1 other process to connect");
    }

    @Test
    void aPeerThatDiesMakesTheOtherRankFailAtOnce() throws Exception {
        int port = ChildProcesses.freePort();
        Probe r0 = start(port, 2, 0, "60", "peer-dies");
        Probe r1 = start(port, 2, 1, "60", "peer-dies");
        String out1 = finish(r1), out0 = finish(r0);
        assertThat(r1.exitValue()).as(out1).isEqualTo(3);
        assertThat(r0.exitValue()).as(out0).isEqualTo(1);
        // not the 60 s timeout: Gloo sees the closed connection
        assertThat(millisAfter(out0, "all-reduce ended")).as(out0).isLessThan(10_000);
        assertThat(ourLines(out0, 0)).as(out0).hasSize(1).first().asString()
                .startsWith("rank 0 of 2: all-reduce (sum) failed: ");
    }

    @Test
    void oneProcessNeedsNoStoreAndLeavesTensorsAsTheyAre() {
        try (DistributedGroup g = DistributedGroup.join(Rendezvous.single(), Duration.ofSeconds(1))) {
            assertThat(g.rank()).isZero();
            assertThat(g.worldSize()).isEqualTo(1);
            Tensor t = torch.tensor(new float[]{1.5f, -2f});
            g.allReduceSum(t);
            g.allReduceMean(t);
            g.broadcast(t, 0);
            g.barrier();
            float[] v = new float[2];
            t.data_ptr_float().get(v);
            assertThat(v).containsExactly(1.5f, -2f);
            assertThatThrownBy(() -> g.broadcast(t, 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("root must be a rank in 0..0, got 1");
            assertThatThrownBy(() -> g.allReduceMean(torch.tensor(new long[]{3})))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("allReduceMean needs a floating-point tensor, got Long");
            g.close();
            assertThatThrownBy(() -> g.allReduceSum(t)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("rank 0 of 1: the process group is closed");
        }
        assertThatThrownBy(() -> DistributedGroup.join(Rendezvous.single(), Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1 ms");
    }

    @Test
    void c10dMessagesLoseTheirStackTraceAndSourceLocation() {
        assertThat(DistributedGroup.firstLine(new RuntimeException(
                "[/build/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:547] Connection closed by peer "
                        + "[127.0.0.1]:62116\nException raised from ...\nframe #0: ...")))
                .isEqualTo("Connection closed by peer [127.0.0.1]:62116");
        assertThat(DistributedGroup.firstLine(new RuntimeException(
                "Timed out after 11 seconds waiting for clients. 1/2 clients joined.\nException raised from x")))
                .isEqualTo("Timed out after 11 seconds waiting for clients. 1/2 clients joined.");
        assertThat(DistributedGroup.format(Duration.ofMinutes(5))).isEqualTo("5 min");
        assertThat(DistributedGroup.format(Duration.ofSeconds(10))).isEqualTo("10 s");
        assertThat(DistributedGroup.format(Duration.ofMillis(2500))).isEqualTo("2.5 s");
    }

    /** A started probe and the file that collects its stdout and stderr. */
    private record Probe(Process process, Path log) {
        int exitValue() {
            return process.exitValue();
        }
    }

    /** Starts the probe as rank {@code rank} of {@code worldSize} with rank 0 at 127.0.0.1:{@code port}. */
    private Probe start(int port, int worldSize, int rank, String timeoutS, String mode) throws IOException {
        List<String> cmd = ChildJvm.command("512m", List.of(), AllReduceProbe.class.getName(), List.of(timeoutS, mode));
        Path log = dir.resolve("rank" + rank + "-" + port + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeAll(Rendezvous.VARIABLES);
        env.put("MASTER_ADDR", "127.0.0.1");
        env.put("MASTER_PORT", String.valueOf(port));
        env.put("WORLD_SIZE", String.valueOf(worldSize));
        env.put("RANK", String.valueOf(rank));
        env.put("LOCAL_RANK", String.valueOf(rank));
        env.remove("GLOO_SOCKET_IFNAME");
        env.put("OMP_NUM_THREADS", "1");
        return new Probe(pb.start(), log);
    }

    /** Waits for the probe (killing it after the allowance), asserts that it ended, and returns its output. */
    private static String finish(Probe p) throws Exception {
        boolean ended = p.process().waitFor(SHORT_TIMEOUT_S + STARTUP_ALLOWANCE_S + 30, TimeUnit.SECONDS);
        if (!ended) p.process().destroyForcibly().waitFor();
        String out = Files.readString(p.log());
        assertThat(ended).as("ended: " + out).isTrue();
        return out;
    }

    /** The lines of {@code out} that {@link DistributedException}s and our checks write for {@code rank}. */
    private static List<String> ourLines(String out, int rank) {
        return out.lines().filter(l -> l.startsWith("rank " + rank + " of ")).toList();
    }

    private static long millisAfter(String out, String what) {
        Matcher m = Pattern.compile("rank \\d+ " + Pattern.quote(what) + " after (\\d+) ms").matcher(out);
        assertThat(m.find()).as("'" + what + " after' in: " + out).isTrue();
        return Long.parseLong(m.group(1));
    }
}
