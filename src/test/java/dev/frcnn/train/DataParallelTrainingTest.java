package dev.frcnn.train;

import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.assembly.Detectors;
import dev.frcnn.cli.Main;
import dev.frcnn.config.Config;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.data.Transform;
import dev.frcnn.data.VocDataset;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.backbone.Backbones;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.testing.ChildJvm;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Data-parallel training between two real processes (child JVMs, c10d's Gloo on loopback, one thread each) on the
 * demo's synthetic data with the tiny backbone.
 *
 * <p>Equivalence: after the epoch's steps, both ranks hold the same weights, bit for bit, and these match one process
 * that, at each step, runs the forward and backward of the same two images in the same order (rank 0's, then rank
 * 1's, each with its own sample index's seed), averages the two gradients and takes the same SGD step. The tolerance,
 * {@link #TOLERANCE} relative to the larger of 1 and the value, allows for float32 rounding differences between two
 * processes' kernels; in practice the two agree far closer (the test prints the largest difference).
 */
class DataParallelTrainingTest {
    /** Weights of the one-process average against the two ranks': |a - b| <= TOLERANCE * max(1, |a|). */
    static final double TOLERANCE = 1e-5;
    private static final int TRAIN_IMAGES = 4;
    private static final int STARTUP_ALLOWANCE_S = 40;

    @TempDir
    Path dir;

    private static List<String> settings(String... more) {
        List<String> s = TinyModels.settings(TinyModels.Size.SMALL, "epoch=1", "lr_decay_epoch=0", "lr=0.02",
                "threads=1", "num_workers=0", TinyModels.SHAPE_CLASSES);
        s.addAll(List.of(more));
        return s;
    }

    private static Path config() {
        return Path.of("configs/voc07-vgg16.json").toAbsolutePath();
    }

    private static Map<String, String> env(int port, int rank) {
        return Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", String.valueOf(port), "WORLD_SIZE", "2",
                "RANK", String.valueOf(rank), "LOCAL_RANK", String.valueOf(rank));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void twoRanksTrainAsOneProcessAveragingTheirTwoImages() throws Exception {
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), TRAIN_IMAGES, 2);
        Path out = dir.resolve("run");
        int port = freePort();
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            List<String> args = new ArrayList<>(List.of(config().toString(), data.toString(), out.toString(),
                    dir.resolve("rank" + r + ".weights").toString(), "60"));
            args.addAll(settings());
            ProcessBuilder pb = new ProcessBuilder(ChildJvm.command(DataParallelProbe.class.getName(), args))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("rank" + r + ".log").toFile());
            pb.environment().putAll(env(port, r));
            ranks.add(pb.start());
        }
        // the one-process reference meanwhile, in this JVM
        Map<String, float[]> expected = averagingOneProcess(data);
        for (int r = 0; r < 2; r++) {
            assertThat(ranks.get(r).waitFor(120, TimeUnit.SECONDS)).as("rank %d ended", r).isTrue();
            String log = Files.readString(dir.resolve("rank" + r + ".log"));
            assertThat(ranks.get(r).exitValue()).as(log).isZero();
        }
        String log0 = Files.readString(dir.resolve("rank0.log"));
        assertThat(log0).contains("data parallel: 2 processes, " + (TRAIN_IMAGES / 2) + " images per epoch each ("
                + TRAIN_IMAGES + " in all)");
        assertThat(log0).containsPattern("epoch 1/1: gradient all-reduce \\d+ ms per step \\(mean of "
                + (TRAIN_IMAGES / 2) + ", ");
        assertThat(Files.readString(dir.resolve("rank1.log"))).doesNotContain("gradient all-reduce", "mAP");

        Map<String, float[]> w0 = WeightsDump.read(dir.resolve("rank0.weights"));
        Map<String, float[]> w1 = WeightsDump.read(dir.resolve("rank1.weights"));
        assertThat(w1.keySet()).containsExactlyElementsOf(w0.keySet()).containsExactlyElementsOf(expected.keySet());
        double worst = 0;
        boolean moved = false;
        try (FasterRCNN init = initialModel()) {
            Map<String, float[]> w = WeightsDump.of(init);
            for (String k : w0.keySet()) {
                assertThat(w1.get(k)).as("rank 1's %s equals rank 0's", k).isEqualTo(w0.get(k));
                float[] a = expected.get(k), b = w0.get(k);
                for (int i = 0; i < a.length; i++) {
                    double d = Math.abs(a[i] - b[i]);
                    worst = Math.max(worst, d / Math.max(1, Math.abs(a[i])));
                    assertThat(d).as("%s[%d]: one process %s, ranks %s", k, i, a[i], b[i])
                            .isLessThanOrEqualTo(TOLERANCE * Math.max(1, Math.abs(a[i])));
                    if (a[i] != w.get(k)[i]) moved = true;
                }
            }
        }
        assertThat(moved).as("the steps changed the weights").isTrue();
        System.out.printf("data parallel vs one process: largest relative difference %.3g%n", worst);
        // only rank 0 wrote the run; last.ckpt's position counts samples over both ranks
        assertThat(Files.readAllLines(out.resolve("losses.csv"))).hasSize(1 + TRAIN_IMAGES / 2);
        Checkpoint.Meta meta = Checkpoint.load(out.resolve("last.ckpt")).meta();
        assertThat(List.of(meta.epoch(), meta.iteration(), meta.globalStep())).containsExactly(1, 0, (long) TRAIN_IMAGES);

        // --resume with another world size (one process): the second epoch's 4 steps from global step 4
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream oldErr = System.err;
        int code;
        System.setErr(new PrintStream(err, true));
        try {
            code = Main.run(ChildJvm.trainArgs(data, out, settings("epoch=2"), true).toArray(String[]::new));
        } finally {
            System.setErr(oldErr);
        }
        assertThat(code).as(err.toString()).isZero();
        assertThat(err.toString()).contains("resuming from " + out.resolve("last.ckpt") + ": epoch 2, step 0 of the epoch");
        List<String> rows = Files.readAllLines(out.resolve("losses.csv"));
        assertThat(rows).hasSize(1 + TRAIN_IMAGES / 2 + TRAIN_IMAGES);
        assertThat(rows.get(1 + TRAIN_IMAGES / 2)).startsWith((TRAIN_IMAGES + 1) + ",2,0,");
        meta = Checkpoint.load(out.resolve("last.ckpt")).meta();
        assertThat(List.of(meta.epoch(), meta.iteration(), meta.globalStep())).containsExactly(2, 0, 2L * TRAIN_IMAGES);
    }

    /** The two ranks' first weights: the loop's seeded initialisation. */
    private FasterRCNN initialModel() throws IOException {
        Config cfg = Config.load(config()).withOverrides(settings());
        torch.manual_seed(cfg.seed());
        return Detectors.create(cfg, SyntheticVoc.CLASS_NAMES);
    }

    /**
     * One process, the same recipe: at step s, the images at positions 2s and 2s+1 of the epoch's order (ranks 0
     * and 1), each sampled with the seed of its sample index, gradients summed by autograd and halved, one step.
     */
    private Map<String, float[]> averagingOneProcess(Path data) throws IOException {
        Config cfg = Config.load(config()).withOverrides(settings());
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try (FasterRCNN model = initialModel()) {
            model.train(true);
            ReseedableSampler sampler = new ReseedableSampler(cfg.seed());
            FasterRCNNTrainer trainer = new FasterRCNNTrainer(model, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(),
                    cfg.weightDecay(), cfg.useAdam(), sampler, cfg.roiNSample());
            Preprocessing pre = cfg.preprocessing();
            VocDataset train = new VocDataset(data, "train", false, SyntheticVoc.CLASS_NAMES, cfg.maxImagePixels(),
                    cfg.exifOrientationMode());
            List<Integer> trainable = new ArrayList<>();
            for (int i = 0; i < train.size(); i++) if (train.annotation(i).size() > 0) trainable.add(i);
            assertThat(trainable).hasSize(TRAIN_IMAGES);
            try (PrefetchLoader loader = new PrefetchLoader(train, trainable, new Transform(pre), pre,
                    Backbones.get(cfg.backbone()).minInputSide(), cfg.seed(), 0)) {
                int[] order = loader.order(0);
                PrefetchLoader.Epoch epoch = loader.epoch(0, order, 0);
                for (int step = 0; step < TRAIN_IMAGES / 2; step++) {
                    try (PointerScope scope = new PointerScope()) {
                        trainer.optimizer().zeroGrad();
                        for (int r = 0; r < 2; r++) {
                            int pos = 2 * step + r;
                            try (Transform.Sample s = epoch.next(pos)) {
                                sampler.reseed(Seeds.stepSeed(cfg.seed(), pos));
                                FasterRCNNTrainer.Losses l = trainer.forward(s.img().unsqueeze(0),
                                        s.bbox().unsqueeze(0), s.label().unsqueeze(0), s.scale());
                                ConvolutionBackward.backward(l.totalLoss());
                            }
                        }
                        StringTensorDict p = model.named_parameters(true);
                        for (long i = 0; i < p.size(); i++) {
                            Tensor g = p.get(i).value().grad();
                            if (g.defined()) g.div_(new Scalar(2.0));
                        }
                        trainer.optimizer().step();
                    }
                }
            }
            return WeightsDump.of(model);
        } finally {
            torch.set_num_threads(threads);
        }
    }

    /**
     * {@code bin/frcnn train --nproc-per-node 2}: the launcher starts two workers (each a {@code train} process with
     * torchrun's environment); rank 1 is killed during training. Rank 0's collective fails at once (well within its
     * {@code --dist-timeout}) and it exits with 1 after its one line naming its rank; the launcher ends with exit code
     * 1 and one line naming the killed rank and the cause.
     */
    @Test
    void killingAWorkerEndsTheJobWithExit1AndOneLineNamingTheRank() throws Exception {
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), TRAIN_IMAGES, 2);
        int port = freePort(), timeoutS = 30;
        List<String> cmd = ChildJvm.train(data, dir.resolve("run"), settings("epoch=50"), false);
        cmd.addAll(List.of("--dist-timeout", String.valueOf(timeoutS), "--nproc-per-node", "2", "--master-port",
                String.valueOf(port)));
        Process launcher = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder log = new StringBuilder();
        CountDownLatch training = new CountDownLatch(1);
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(launcher.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    synchronized (log) {
                        log.append(line).append('\n');
                    }
                    if (line.startsWith("data parallel: ")) training.countDown();
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        assertThat(training.await(STARTUP_ALLOWANCE_S + 30, TimeUnit.SECONDS)).as("rank 0 started training: %s",
                log).isTrue();
        Thread.sleep(1500); // a few steps
        List<ProcessHandle> workers = launcher.toHandle().children().toList();
        assertThat(workers).hasSize(2);
        ProcessHandle rank1 = null;
        for (ProcessHandle w : workers) {
            String env = Files.readString(Path.of("/proc/" + w.pid() + "/environ")).replace('\0', '\n');
            if (env.lines().anyMatch("RANK=1"::equals)) rank1 = w;
        }
        assertThat(rank1).as("the worker of rank 1 among %s", workers).isNotNull();
        long pid1 = rank1.pid();
        rank1.destroyForcibly();
        long killed = System.nanoTime();
        assertThat(launcher.waitFor(timeoutS + 10, TimeUnit.SECONDS)).as("the launcher ended").isTrue();
        long afterS = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - killed);
        String out;
        synchronized (log) {
            out = log.toString();
        }
        assertThat(launcher.exitValue()).as(out).isEqualTo(1);
        assertThat(afterS).as(out).isLessThan(timeoutS);
        for (ProcessHandle w : workers) assertThat(w.isAlive()).as("worker %d ended", w.pid()).isFalse();
        List<String> ours = out.lines().filter(l -> l.startsWith("frcnn: ")).toList();
        // rank 0's own line (the workers write to the launcher's stderr), then the launcher's
        assertThat(ours).as(out).hasSize(2);
        assertThat(ours.get(0)).as(out).matches("frcnn: rank 0 of 2: .* failed: .+");
        assertThat(ours.get(1)).as(out).isEqualTo("frcnn: rank 1 of 2 (pid " + pid1 + ") was killed by signal 9 "
                + "(exit code 137); stopped the other workers of this machine");
    }
}
