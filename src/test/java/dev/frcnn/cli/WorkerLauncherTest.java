package dev.frcnn.cli;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link WorkerLauncher}'s argument handling and {@code train}'s launcher options (torchrun's names). */
class WorkerLauncherTest {
    @Test
    void workersGetTheCommandLineWithoutTheLauncherOptions() {
        List<String> args = List.of("--config", "c.json", "--nproc-per-node", "2", "--nnodes=3", "--data", "d",
                "--node-rank", "1", "--master-addr", "10.0.0.1", "--master-port=29511", "--set", "threads=1",
                "--dist-timeout", "60", "--out", "runs/x");
        assertThat(WorkerLauncher.workerArgs(args)).containsExactly("--config", "c.json", "--data", "d", "--set",
                "threads=1", "--dist-timeout", "60", "--out", "runs/x");
        // a value that looks like a launcher option's name is another option's value: kept
        assertThat(WorkerLauncher.workerArgs(List.of("--out", "--nnodes-dir", "--nproc-per-node", "1")))
                .containsExactly("--out", "--nnodes-dir");
    }

    @Test
    void eachWorkerGetsTorchrunsEnvironment() {
        WorkerLauncher.Job job = new WorkerLauncher.Job(4, 2, 1, "node0", 29600);
        assertThat(job.problems()).isEmpty();
        Map<String, String> env = WorkerLauncher.environment(job, 3);
        assertThat(env).containsExactly(Map.entry("MASTER_ADDR", "node0"), Map.entry("MASTER_PORT", "29600"),
                Map.entry("WORLD_SIZE", "8"), Map.entry("RANK", "7"), Map.entry("LOCAL_RANK", "3"));
        assertThat(WorkerLauncher.environment(new WorkerLauncher.Job(2, 1, 0, "127.0.0.1", 29500), 0))
                .containsEntry("WORLD_SIZE", "2").containsEntry("RANK", "0").containsEntry("LOCAL_RANK", "0");
    }

    @Test
    void badJobsNameEveryOption() {
        assertThat(new WorkerLauncher.Job(0, 2, 2, " ", 70000).problems()).containsExactly(
                "--nproc-per-node 0: expected at least 1 worker",
                "--node-rank 2: expected 0..1 (--nnodes 2)",
                "--master-addr: expected the address of machine 0",
                "--master-port 70000: expected a TCP port in 1..65535");
        assertThat(new WorkerLauncher.Job(1, 0, 0, "h", 1).problems())
                .containsExactly("--nnodes 0: expected at least 1 machine");
    }

    @Test
    void theCauseNamesASignal() {
        assertThat(WorkerLauncher.cause(137)).isEqualTo("was killed by signal 9 (exit code 137)");
        assertThat(WorkerLauncher.cause(1)).isEqualTo("exited with code 1");
        assertThat(WorkerLauncher.cause(2)).isEqualTo("exited with code 2");
    }

    @Test
    void theCommandRefusesBadLauncherOptionsBeforeReadingAnything() {
        CliTest.Run r = CliTest.run("train", "--data", "no-data", "--out", "nowhere", "--nproc-per-node", "0", "--master-port", "0");
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo("frcnn: --nproc-per-node 0: expected at least 1 worker; "
                + "--master-port 0: expected a TCP port in 1..65535");
        r = CliTest.run("train", "--data", "no-data", "--out", "nowhere", "--nnodes", "2", "--master-addr", "h");
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo("frcnn: --nnodes, --master-addr need --nproc-per-node");
        r = CliTest.run("train", "--data", "no-data", "--out", "nowhere", "--dist-timeout", "0");
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo("frcnn: --dist-timeout 0: expected at least 1 second");
    }

    @Test
    void theWorkersJvmIsThisOneUpToItsArguments() {
        List<String> jvm = WorkerLauncher.thisJvm(0);
        assertThat(jvm.getFirst()).endsWith("java");
    }
}
