package dev.frcnn.train;

import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.data.DataException;
import dev.frcnn.data.DatasetCheck;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.Transform;
import dev.frcnn.data.VocDataset;
import dev.frcnn.eval.DetectionEvaluator;
import dev.frcnn.eval.VocEval;
import dev.frcnn.io.ModelWeights;
import dev.frcnn.io.WeightLoader;
import dev.frcnn.io.WriteFailures;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.roi.Thresholds;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The training loop of the reference's {@code train.py}: for each epoch, one {@link FasterRCNNTrainer#trainStep}
 * per training image (shuffled, horizontally flipped with p = 0.5), then VOC07 mAP on the test split; the best
 * model is kept; at epoch {@code lr_decay_epoch} the best model is reloaded and the learning rate scaled by
 * {@code lr_decay}. Images whose objects are all {@code difficult} have no gt box to train on: the reference
 * crashes on them, this loop skips them and reports the count.
 *
 * <p>Outputs in the run directory: {@code config.json}, {@code losses.csv} (one row per step),
 * {@code loss_curve.png} and {@code .svg} (redrawn after each epoch's training), {@code metrics.csv} (mAP per epoch),
 * {@code metrics.png} and {@code .svg} (redrawn after each evaluation), {@code best.ckpt} (best mAP so far),
 * {@code last.ckpt} (the running state every {@code checkpoint_every} steps and at the end of each epoch:
 * model, optimizer, epoch, position in the epoch, best mAP). {@code resume} continues from {@code last.ckpt}:
 * the epoch order, flips and sampling are functions of (seed, epoch, step), so a resumed run repeats exactly
 * what an uninterrupted one would have done.
 *
 * <p>The run directory is protected ({@link RunDirectory}): a fresh run refuses a directory that holds a run unless
 * {@code overwrite} is set (then the previous run's files are removed once the data and weights are loaded), and
 * every start removes the temporary files of saves killed before their rename. A {@link StopRequest} (SIGTERM,
 * SIGINT) is honoured after the step in progress and between the images of an evaluation: {@code last.ckpt} is saved
 * at the position reached and {@link TrainingStoppedException} thrown.
 */
public final class TrainLoop {
    /**
     * How to run.
     *
     * @param resume continue the run in {@code outDir} from its {@code last.ckpt}
     * @param overwrite replace the run in {@code outDir}, if any (its {@link RunDirectory#RUN_FILES}); without it
     *     and without {@code resume}, a directory that holds a run is refused ({@link RunExistsException})
     * @param stop polled between steps; null = {@link StopRequest#none()}
     */
    public record Options(Path dataDir, Path outDir, boolean resume, boolean overwrite, String trainSplit,
                          String testSplit, Device device, PrintStream log, boolean progressBar, StopRequest stop) {
        /** Replaces a null {@code stop} with {@link StopRequest#none()}. */
        public Options {
            if (stop == null) stop = StopRequest.none();
        }

        /** A fresh run (refusing a directory that holds a run) or a resume, which nothing outside can stop. */
        public Options(Path dataDir, Path outDir, boolean resume, String trainSplit, String testSplit, Device device,
                       PrintStream log, boolean progressBar) {
            this(dataDir, outDir, resume, false, trainSplit, testSplit, device, log, progressBar, StopRequest.none());
        }
    }

    /**
     * The outcome of a run.
     *
     * @param bestEvaluation the test-split evaluation of the best epoch (the weights in {@code bestCheckpoint}),
     *     or null if that epoch was evaluated by an earlier process (a resumed run)
     */
    public record Result(double bestMap, int bestEpoch, double lastMap, Path bestCheckpoint, FasterRCNN model,
                         VocEval.Result bestEvaluation) {}

    private static final List<String> LOSS_NAMES = FasterRCNNTrainer.Losses.NAMES;

    private final Config cfg;
    private final Options opt;
    private final List<String> classNames;
    private final Preprocessing preprocessing;
    /** The backbone's smallest input side ({@link dev.frcnn.model.backbone.BackboneSpec#minInputSide()}). */
    private final int minInputSide;
    private final WarmupLinear warmup;

    /**
     * @param cfg the training configuration (the reference's keys; {@code class_names} not given = the 20 VOC classes)
     * @param opt data and run directories, resume flag, splits, device, log stream, progress bar
     */
    public TrainLoop(Config cfg, Options opt) {
        this.cfg = cfg;
        this.opt = opt;
        this.classNames = cfg.classNamesOrVoc();
        this.preprocessing = cfg.preprocessing();
        this.minInputSide = dev.frcnn.model.backbone.Backbones.get(cfg.backbone()).minInputSide();
        this.warmup = new WarmupLinear(cfg.warmupIters(), cfg.warmupFactor());
    }

    /** The mutable position of a run, saved in {@code last.ckpt}. */
    private static final class State {
        int epoch;
        int iteration;
        long globalStep;
        double bestMap = -1;
        int bestEpoch = -1;
        double lastMap = Double.NaN;
        double lr;
    }

    /**
     * Trains, evaluating after each epoch.
     *
     * @throws IOException if the run directory cannot be written or a checkpoint read
     * @throws dev.frcnn.data.DataException for a broken dataset (names the file); problems found by the up-front
     *     check of both splits ({@link DatasetCheck}: missing, unreadable, truncated or too small images, bad
     *     annotations) come all together, as a {@link dev.frcnn.data.DatasetProblemsException}, before the run
     *     directory is touched; also for a training split without an image with a non-difficult object
     * @throws RunExistsException if a fresh run meets a run's files in the run directory (before anything is read)
     * @throws dev.frcnn.error.UserInputException also for {@code resume} with {@code overwrite}, or {@code resume}
     *     without {@code last.ckpt} ({@link RunDirectory#checkStart})
     * @throws TrainingStoppedException when {@link Options#stop()} was requested: after saving {@code last.ckpt}
     */
    public Result run() throws IOException {
        RunDirectory.checkStart(opt.outDir(), opt.resume(), opt.overwrite());
        VocDataset train = new VocDataset(opt.dataDir(), opt.trainSplit(), false, classNames, cfg.maxImagePixels(),
                cfg.exifOrientationMode());
        VocDataset test = new VocDataset(opt.dataDir(), opt.testSplit(), true, classNames, cfg.maxImagePixels(),
                cfg.exifOrientationMode());
        // Every listed image and annotation of both splits, before anything is created or trained.
        DatasetCheck.Result checked = DatasetCheck.run(List.of(train, test), cfg.truncatedImagesMode(),
                (file, h, w) -> preprocessing.checkResizable(file, h, w, minInputSide));
        for (String w : checked.warnings()) opt.log().println("frcnn: warning: " + w);
        opt.log().printf("checked %d images of '%s' and '%s' in %.2f s%n", checked.images(), opt.trainSplit(),
                opt.testSplit(), checked.seconds());
        train = checked.datasets().get(0);
        test = checked.datasets().get(1);
        Files.createDirectories(opt.outDir());
        RunDirectory.removeStaleTemporaryFiles(opt.outDir(), opt.log());
        List<Integer> trainable = new ArrayList<>();
        for (int i = 0; i < train.size(); i++) if (train.annotation(i).size() > 0) trainable.add(i);
        int skipped = train.size() - trainable.size();
        if (trainable.isEmpty()) {
            throw new DataException(opt.dataDir(), "split '" + opt.trainSplit() + "' has no image with a non-difficult object");
        }

        // Random initialisation from the seed, so that the same seed gives the same run.
        org.bytedeco.pytorch.global.torch.manual_seed(cfg.seed());
        FasterRCNN model = Detectors.create(cfg, classNames);
        model.to(opt.device(), false);
        ReseedableSampler sampler = new ReseedableSampler(cfg.seed());
        FasterRCNNTrainer trainer = new FasterRCNNTrainer(model, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(),
                cfg.weightDecay(), cfg.useAdam(), sampler, cfg.roiNSample());
        trainer.setClipGradNorm(cfg.clipGradNorm());
        State st = new State();
        st.lr = cfg.lr();
        Path last = opt.outDir().resolve("last.ckpt"), best = opt.outDir().resolve("best.ckpt");
        if (opt.resume()) {
            restore(last, model, trainer, st);
            opt.log().printf("resuming from %s: epoch %d, step %d of the epoch, best mAP %.4f%n", last,
                    st.epoch + 1, st.iteration, Math.max(st.bestMap, 0));
        } else if (cfg.loadPath() != null) {
            ModelWeights.Loaded w = ModelWeights.read(Path.of(cfg.loadPath()));
            Detectors.load(model, cfg, w, cfg.loadPath());
        }
        // The previous run goes only now that the data and weights of the new one have loaded.
        if (opt.overwrite()) RunDirectory.removeRun(opt.outDir(), opt.log());
        Path cfgOut = opt.outDir().resolve("config.json");
        try {
            Files.writeString(cfgOut, cfg.toJson());
        } catch (IOException e) {
            throw WriteFailures.naming(cfgOut, e);
        }
        LossLog losses = new LossLog(opt.outDir(), st.globalStep, opt.log());
        // A fresh run starts with last.ckpt = the initial state, so that a run diverging before its first periodic
        // checkpoint still leaves a state to resume from (with other settings).
        if (!opt.resume()) saveCheckpoint(last, model, trainer, st, true);
        if (skipped > 0) {
            opt.log().printf("note: %d of %d training images have no non-difficult object and are skipped%n", skipped, train.size());
        }

        Transform transform = new Transform(preprocessing);
        // num_workers 0, as in PyTorch's DataLoader: images are read in the training thread, between steps.
        ExecutorService pool = cfg.numWorkers() == 0 ? null : Executors.newFixedThreadPool(Math.min(cfg.numWorkers(), 2), r -> {
            Thread t = new Thread(r, "frcnn-loader");
            t.setDaemon(true);
            return t;
        });
        VocEval.Result bestEvaluation = null;
        try {
            for (; st.epoch < cfg.epoch(); st.epoch++) {
                int[] order = epochOrder(trainable, cfg.seed(), st.epoch);
                stopIfRequested(model, trainer, st, order.length, last);
                long trainStart = System.nanoTime();
                if (st.iteration < order.length) {
                    trainEpoch(train, transform, pool, order, model, trainer, sampler, st, losses, last);
                }
                long evalStart = System.nanoTime();
                model.train(false);
                VocEval eval;
                try {
                    eval = DetectionEvaluator.run(model, test, preprocessing, Thresholds.EVALUATE, cfg.testNum(),
                            done -> {
                                if (opt.stop().isRequested()) throw new EvaluationStopped();
                            });
                } catch (EvaluationStopped e) {
                    // The epoch's training is done (iteration = its length): a resume evaluates it again.
                    model.train(true);
                    stopIfRequested(model, trainer, st, order.length, last);
                    throw new IllegalStateException("unreachable: a stop was requested");
                }
                VocEval.Result r = eval.evaluate(cfg.use07Metric());
                model.train(true);
                st.lastMap = r.map();
                losses.epoch(st.epoch, r.map(), trainer.lr());
                opt.log().printf("epoch %d/%d: mAP %.4f, lr %.2e (train %.1f s, eval %.1f s)%n", st.epoch + 1, cfg.epoch(),
                        r.map(), trainer.lr(), (evalStart - trainStart) / 1e9, (System.nanoTime() - evalStart) / 1e9);
                losses.plotMetrics();
                if (r.map() > st.bestMap) {
                    st.bestMap = r.map();
                    st.bestEpoch = st.epoch;
                    bestEvaluation = r;
                    saveCheckpoint(best, model, null, st, false);
                }
                if (st.epoch == cfg.lrDecayEpoch() && st.bestEpoch >= 0) {
                    Checkpoint b = Checkpoint.load(best);
                    WeightLoader.load(model, b.tensors(), true);
                    trainer.scaleLr(cfg.lrDecay());
                    st.lr = st.lr * cfg.lrDecay();
                    opt.log().printf("reloaded the best model (epoch %d), lr x %s%n", st.bestEpoch + 1, cfg.lrDecay());
                }
                st.iteration = 0;
                saveCheckpoint(last, model, trainer, nextEpoch(st), true);
            }
            stopIfRequested(model, trainer, st, 0, last);
        } finally {
            if (pool != null) pool.shutdownNow();
            losses.close();
        }
        return new Result(st.bestMap, st.bestEpoch, st.lastMap, best, model, bestEvaluation);
    }

    /** Thrown out of an evaluation by its progress callback when a stop is requested. */
    private static final class EvaluationStopped extends RuntimeException {
        private static final long serialVersionUID = 1L;

        EvaluationStopped() {
            super("stop requested", null, false, false);
        }
    }

    /**
     * At a step boundary: if a stop was requested, saves {@code last.ckpt} at {@code st} (whose best mAP and epoch are
     * those of {@code best.ckpt}: nothing polls between an evaluation and the save of {@code best.ckpt}) and throws
     * {@link TrainingStoppedException}; otherwise returns.
     *
     * @param iterations steps in the epoch of {@code st}
     */
    private void stopIfRequested(FasterRCNN model, FasterRCNNTrainer trainer, State st, int iterations, Path last)
            throws IOException {
        StopRequest.Reason why = opt.stop().reason();
        if (why == null) return;
        saveCheckpoint(last, model, trainer, st, true);
        throw new TrainingStoppedException(why, st.epoch, st.iteration, iterations, cfg.epoch(), last);
    }

    private static State nextEpoch(State st) {
        State n = new State();
        n.epoch = st.epoch + 1;
        n.iteration = 0;
        n.globalStep = st.globalStep;
        n.bestMap = st.bestMap;
        n.bestEpoch = st.bestEpoch;
        n.lastMap = st.lastMap;
        n.lr = st.lr;
        return n;
    }

    private void trainEpoch(VocDataset train, Transform transform, ExecutorService pool, int[] order, FasterRCNN model,
                            FasterRCNNTrainer trainer, ReseedableSampler sampler, State st, LossLog losses, Path last)
            throws IOException {
        model.train(true);
        int epoch = st.epoch;
        ArrayDeque<Future<Transform.Sample>> ahead = new ArrayDeque<>();
        int next = st.iteration;
        int prefetch = 4;
        ProgressBar pb = opt.progressBar() ? new ProgressBarBuilder()
                .setTaskName(String.format("epoch %d/%d", epoch + 1, cfg.epoch()))
                .setInitialMax(order.length).startsFrom(st.iteration, java.time.Duration.ZERO)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(1000).showSpeed()
                .setConsumer(new ConsoleProgressBarConsumer(opt.log())).build() : null;
        try {
            double[] running = new double[LOSS_NAMES.size()];
            int seen = 0;
            for (int it = st.iteration; it < order.length; it++) {
                while (pool != null && next < order.length && ahead.size() < prefetch) {
                    int idx = order[next];
                    boolean flip = flip(cfg.seed(), epoch, idx);
                    ahead.add(pool.submit(() -> load(train, transform, idx, flip)));
                    next++;
                }
                double[] v;
                try (Transform.Sample s = pool == null ? load(train, transform, order[it], flip(cfg.seed(), epoch, order[it]))
                        : take(ahead.poll(), train, order[it]);
                     PointerScope scope = new PointerScope()) {
                    sampler.reseed(mix(cfg.seed(), st.globalStep));
                    Tensor img = s.img().unsqueeze(0).to(opt.device(), s.img().scalar_type());
                    Tensor bbox = s.bbox().unsqueeze(0).to(opt.device(), s.bbox().scalar_type());
                    Tensor label = s.label().unsqueeze(0).to(opt.device(), s.label().scalar_type());
                    v = warmedUpStep(trainer, st.globalStep, img, bbox, label, s.scale());
                } catch (NonFiniteLossException e) {
                    losses.step(st.globalStep + 1, epoch, it, e.values(), trainer.lr() * warmup.at(st.globalStep));
                    losses.flush();
                    throw new TrainingDivergedException(st.globalStep + 1, epoch + 1, e.nonFiniteLosses(),
                            NonFiniteLossException.describe(e.values()), Files.isRegularFile(last) ? last : null);
                }
                st.globalStep++;
                st.iteration = it + 1;
                losses.step(st.globalStep, epoch, it, v, trainer.lr() * warmup.at(st.globalStep - 1));
                seen++;
                for (int k = 0; k < v.length; k++) running[k] += v[k];
                if (pb != null) {
                    pb.step();
                    pb.setExtraMessage(String.format("loss %.3f", running[running.length - 1] / seen));
                }
                if (st.globalStep % cfg.checkpointEvery() == 0 && st.iteration < order.length) {
                    losses.flush(); // before the checkpoint: a run killed between the two keeps every row up to it
                    saveCheckpoint(last, model, trainer, st, true);
                }
                if (opt.stop().isRequested()) {
                    losses.flush();
                    stopIfRequested(model, trainer, st, order.length, last);
                }
            }
        } finally {
            for (Future<Transform.Sample> f : ahead) {
                f.cancel(true);
            }
            if (pb != null) pb.close();
        }
        losses.flush();
        losses.plot();
    }

    /**
     * One train step at the warmed-up learning rate: every group's lr is multiplied by
     * {@link WarmupLinear#at(long) warmup.at(step)} for this step and restored exactly afterwards (so checkpoints and
     * lr decay see the schedule's lr). Without warm-up (factor 1) this is {@code trainStep} unchanged.
     */
    private double[] warmedUpStep(FasterRCNNTrainer trainer, long step, Tensor img, Tensor bbox, Tensor label,
                                  double scale) {
        double f = warmup.at(step);
        if (f == 1.0) return trainer.trainStep(img, bbox, label, scale).values();
        double[] base = trainer.groupLrs();
        trainer.scaleLr(f);
        try {
            return trainer.trainStep(img, bbox, label, scale).values();
        } finally {
            trainer.setGroupLrs(base);
        }
    }

    private Transform.Sample load(VocDataset train, Transform transform, int idx, boolean flip) {
        try (PointerScope s = new PointerScope()) {
            VocDataset.VocExample ex = train.get(idx);
            // an image resized below the backbone's smallest input is refused naming its file (not LibTorch's shape error)
            preprocessing.checkResizable(train.imagePath(idx), ex.image().size(1), ex.image().size(2), minInputSide);
            return transform.apply(ex.image(), ex.bbox(), ex.label(), flip);
        }
    }

    private static Transform.Sample take(Future<Transform.Sample> f, VocDataset train, int idx) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while loading " + train.imagePath(idx), e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException("cannot load " + train.imagePath(idx) + ": " + e.getCause(), e.getCause());
        }
    }

    /** The shuffled order of an epoch: a function of (seed, epoch) only. */
    static int[] epochOrder(List<Integer> trainable, long seed, int epoch) {
        int[] order = trainable.stream().mapToInt(Integer::intValue).toArray();
        SplittableRandom r = new SplittableRandom(mix(seed, 0x5EED0000L + epoch));
        for (int i = order.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    /** The horizontal-flip coin of image {@code idx} in {@code epoch} (p = 0.5, as the reference). */
    static boolean flip(long seed, int epoch, int idx) {
        return (mix(mix(seed, 0xF11Fl + epoch), idx) & 1L) == 1L;
    }

    /** splitmix64 of (a, b): a well-mixed 64-bit value. */
    static long mix(long a, long b) {
        long z = a * 0x9E3779B97F4A7C15L + b + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private void saveCheckpoint(Path file, FasterRCNN model, FasterRCNNTrainer trainer, State st, boolean withState)
            throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            StringTensorDict p = model.named_parameters(true), b = model.named_buffers(true);
            for (long i = 0; i < p.size(); i++) {
                Tensor t = p.get(i).value();
                // Never overwrite a checkpoint with a diverged state (an update can make parameters non-finite
                // although the loss that produced it was finite).
                if (!org.bytedeco.pytorch.global.torch.isfinite(t.detach()).all().item_bool()) {
                    throw new TrainingDivergedException(st.globalStep, Math.min(st.epoch + 1, cfg.epoch()),
                            List.of("parameters"), p.get(i).key().getString() + " has NaN or infinite values",
                            Files.isRegularFile(file) ? file : null);
                }
                tensors.put(p.get(i).key().getString(), t);
            }
            for (long i = 0; i < b.size(); i++) tensors.put(b.get(i).key().getString(), b.get(i).value());
            boolean state = withState && trainer != null;
            Checkpoint.Meta meta = new Checkpoint.Meta(cfg, classNames, st.epoch, st.iteration, st.globalStep,
                    st.bestMap, st.bestEpoch, st.lr, state ? trainer.groupLrs() : null);
            new Checkpoint(tensors, meta, state ? optimizerBytes(trainer) : null).save(file);
        }
    }

    private static byte[] optimizerBytes(FasterRCNNTrainer trainer) throws IOException {
        return trainer.optimizer().saveState();
    }

    private void restore(Path file, FasterRCNN model, FasterRCNNTrainer trainer, State st) throws IOException {
        Checkpoint c = Checkpoint.load(file);
        WeightLoader.load(model, c.tensors(), true);
        byte[] optim = c.optimizerState();
        if (optim == null) throw new dev.frcnn.io.WeightsFormatException(file, "no optimizer state to resume from");
        trainer.optimizer().loadState(optim, file);
        Checkpoint.Meta m = c.meta();
        st.epoch = m.epoch();
        st.iteration = m.iteration();
        st.globalStep = m.globalStep();
        st.bestMap = m.bestMap();
        st.bestEpoch = m.bestEpoch();
        st.lr = m.lr();
        double[] lrs = m.groupLrs() == null ? null : m.groupLrs().clone();
        // A resume with another lr (e.g. lower, after a divergence) scales the saved schedule (decay included).
        double savedBase = m.config().lr();
        double ratio = savedBase == cfg.lr() ? 1.0 : cfg.lr() / savedBase;
        if (ratio != 1.0) {
            opt.log().printf("lr changed from %s to %s: the saved learning rates are scaled by %s%n", savedBase,
                    cfg.lr(), ratio);
            st.lr *= ratio;
            if (lrs != null) for (int g = 0; g < lrs.length; g++) lrs[g] *= ratio;
        }
        if (lrs == null || lrs.length == 0) {
            trainer.setBaseLr(st.lr);
        } else {
            trainer.setGroupLrs(lrs);
        }
    }

    /** A {@link Sampler} whose random stream is re-seeded before every step, so that resumed runs repeat exactly. */
    static final class ReseedableSampler implements Sampler {
        private Sampler current;

        ReseedableSampler(long seed) {
            this.current = Sampler.seeded(seed);
        }

        void reseed(long seed) {
            this.current = Sampler.seeded(seed);
        }

        @Override
        public Tensor choose(Tensor ascendingIndices, long count) {
            return current.choose(ascendingIndices, count);
        }
    }

    /**
     * losses.csv, metrics.csv and their charts. A chart that cannot be drawn or written is a warning on the log: the
     * CSVs hold the numbers, and training goes on.
     */
    private static final class LossLog implements AutoCloseable {
        private final Path dir;
        private final PrintStream log;
        private final BufferedWriter csv;
        private final BufferedWriter metrics;
        private final List<double[]> rows = new ArrayList<>();

        LossLog(Path dir, long keepSteps, PrintStream log) throws IOException {
            this.dir = dir;
            this.log = log;
            Path f = dir.resolve("losses.csv");
            List<String> kept = new ArrayList<>();
            kept.add("step,epoch,iteration," + String.join(",", LOSS_NAMES) + ",lr");
            if (keepSteps > 0 && Files.isRegularFile(f)) {
                for (String line : Files.readAllLines(f)) {
                    String[] c = line.split(",");
                    if (c.length != LOSS_NAMES.size() + 4 || !c[0].matches("\\d+")) continue;
                    if (Long.parseLong(c[0]) > keepSteps) continue;
                    kept.add(line);
                    double[] v = new double[LOSS_NAMES.size()];
                    for (int k = 0; k < v.length; k++) v[k] = Double.parseDouble(c[3 + k]);
                    rows.add(v);
                }
            }
            Files.write(f, kept);
            this.csv = Files.newBufferedWriter(f, StandardOpenOption.APPEND);
            Path mf = dir.resolve("metrics.csv");
            if (keepSteps == 0 || !Files.isRegularFile(mf)) Files.writeString(mf, "epoch,map,lr\n");
            this.metrics = Files.newBufferedWriter(mf, StandardOpenOption.APPEND);
        }

        void step(long step, int epoch, int it, double[] v, double lr) throws IOException {
            StringBuilder sb = new StringBuilder().append(step).append(',').append(epoch + 1).append(',').append(it);
            for (double x : v) sb.append(',').append((float) x);
            try {
                csv.write(sb.append(',').append(lr).append('\n').toString());
            } catch (IOException e) {
                throw WriteFailures.naming(dir.resolve("losses.csv"), e);
            }
            rows.add(v.clone());
        }

        void epoch(int epoch, double map, double lr) throws IOException {
            try {
                metrics.write((epoch + 1) + "," + map + "," + lr + "\n");
                metrics.flush();
            } catch (IOException e) {
                throw WriteFailures.naming(dir.resolve("metrics.csv"), e);
            }
        }

        /** Draws metrics.png/.svg from metrics.csv. */
        void plotMetrics() {
            chart(() -> MetricsPlot.write(dir.resolve("metrics.png"), "mAP",
                    MetricsPlot.read(dir.resolve("metrics.csv"), "map")));
        }

        void flush() throws IOException {
            try {
                csv.flush();
            } catch (IOException e) {
                throw WriteFailures.naming(dir.resolve("losses.csv"), e);
            }
        }

        void plot() {
            List<double[]> series = new ArrayList<>();
            for (int k = 0; k < LOSS_NAMES.size(); k++) {
                double[] s = new double[rows.size()];
                for (int i = 0; i < s.length; i++) s[i] = rows.get(i)[k];
                series.add(s);
            }
            chart(() -> LossPlot.write(dir.resolve("loss_curve.png"), LOSS_NAMES, series,
                    Math.max(1, Math.min(50, rows.size() / 10 + 1))));
        }

        private interface Chart {
            void write() throws IOException;
        }

        private void chart(Chart c) {
            try {
                c.write();
            } catch (IOException e) {
                log.println("warning: " + e.getMessage() + "; training goes on");
            }
        }

        @Override
        public void close() throws IOException {
            csv.close();
            metrics.close();
        }
    }
}
