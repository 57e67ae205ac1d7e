package dev.frcnn.train;

import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.config.Config;
import dev.frcnn.config.ConfigException;
import dev.frcnn.data.DataException;
import dev.frcnn.data.DatasetCheck;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.DatasetLayouts;
import dev.frcnn.data.DetectionDataset;
import dev.frcnn.dist.DistributedGroup;
import dev.frcnn.dist.Rendezvous;
import dev.frcnn.eval.VocEval;
import dev.frcnn.io.WriteFailures;
import dev.frcnn.model.DetectionModel;
import org.bytedeco.pytorch.Device;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The training loop of the reference's {@code train.py}: for each epoch, one step of the model family's
 * {@link StepTrainer} ({@link StepTrainers}: the reference's {@link FasterRCNNTrainer#trainStep}, or torchvision's
 * {@link TorchvisionTrainer} for {@code backbone: resnet50_fpn}) per training image (shuffled, horizontally flipped with p = 0.5; with {@code batch_size} B > 1, one step per B
 * consecutive images of the shuffled order, the last step of an epoch taking the rest), then the {@code eval_metric}
 * (VOC07 mAP by default) on the test split; the best
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
 * <p>Data: any {@link DetectionDataset}, opened by {@link DatasetLayouts#open} (a VOC or COCO 2017 layout, or a COCO
 * file and image folder). The class names are the training split's ({@code class_names} for VOC, or the COCO
 * categories, which must then match {@code class_names} if given); the checkpoints store them with their COCO
 * category ids ({@link DetectionDataset#categories()}). A COCO set converted from a VOC set trains exactly as the
 * VOC set: same images in the same order, same targets.
 *
 * <p>This class sets a run up (the dataset check, the model and optimizer, resume or {@code load_path}, the run
 * directory) and builds the hooks in one place; {@link SimpleTrainer} runs the steps and calls them:
 * {@link ProgressBarHook}, {@link LossLog}, {@link EvalHook} (evaluation and {@code best.ckpt}), {@link LrSchedule}
 * (warm-up, the decay with the reload of the best model, the group lrs), {@link PeriodicCheckpointer}
 * ({@code last.ckpt}), in that order.
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
     * @param train the training split
     * @param test the evaluation split
     * @param resume continue the run in {@code outDir} from its {@code last.ckpt}
     * @param overwrite replace the run in {@code outDir}, if any (its {@link RunDirectory#RUN_FILES}); without it
     *     and without {@code resume}, a directory that holds a run is refused ({@link RunExistsException})
     * @param stop polled between steps; null = {@link StopRequest#none()}
     */
    public record Options(DatasetLayouts.Source train, DatasetLayouts.Source test, Path outDir, boolean resume,
                          boolean overwrite, Device device, PrintStream log, boolean progressBar, StopRequest stop) {
        /** Replaces a null {@code stop} with {@link StopRequest#none()}. */
        public Options {
            if (stop == null) stop = StopRequest.none();
        }

        /** The splits {@code trainSplit} and {@code testSplit} of the dataset directory {@code dataDir} (any layout). */
        public Options(Path dataDir, Path outDir, boolean resume, boolean overwrite, String trainSplit,
                       String testSplit, Device device, PrintStream log, boolean progressBar, StopRequest stop) {
            this(DatasetLayouts.Source.layout(dataDir, trainSplit), DatasetLayouts.Source.layout(dataDir, testSplit),
                    outDir, resume, overwrite, device, log, progressBar, stop);
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
     * @param bestMap the best value of the {@code eval_metric} (VOC mAP, or COCO AP@[.5:.95]); -1 if none
     * @param bestEvaluation the test-split VOC evaluation of the best epoch (the weights in {@code bestCheckpoint}),
     *     or null if that epoch was evaluated by an earlier process (a resumed run) or the metric is COCO's
     */
    public record Result(double bestMap, int bestEpoch, double lastMap, Path bestCheckpoint, DetectionModel model,
                         VocEval.Result bestEvaluation) {}

    private final Config cfg;
    private final Options opt;
    private final Preprocessing preprocessing;
    /** The backbone's smallest input side ({@link dev.frcnn.model.backbone.BackboneSpec#minInputSide()}). */
    private final int minInputSide;
    /** The data-parallel job this process is part of (world size 1: alone). */
    private final DistributedGroup group;

    /**
     * @param cfg the training configuration (the reference's keys; {@code class_names} not given = the 20 VOC classes
     *     for VOC data, the categories for COCO data)
     * @param opt data and run directories, resume flag, splits, device, log stream, progress bar
     */
    public TrainLoop(Config cfg, Options opt) {
        this(cfg, opt, DistributedGroup.join(Rendezvous.single()));
    }

    /**
     * One process of a data-parallel job ({@code docs/distributed.md}): every rank trains on its share of each epoch
     * ({@link DistributedSampler}), starts from rank 0's weights and averages the gradients before each step
     * ({@link GradientAllReduce}). Only rank 0 writes to the run directory and the log (checkpoints, losses, metrics,
     * charts, the progress bar) and evaluates, while the others wait ({@link EvalBarrier}). {@link Options#stop()}
     * on any rank stops every rank at the same step boundary, where rank 0 saves {@code last.ckpt}
     * ({@link DistributedStop}). A resume reads {@code last.ckpt} on every rank, so {@code outDir} must be visible to all.
     * With a group of world size 1 this is exactly {@link #TrainLoop(Config, Options)}.
     *
     * @param group the job's joined process group (the caller closes it)
     * @throws dev.frcnn.error.UserInputException when the group has several processes and the device is CUDA (Gloo
     *     here reduces CPU tensors; NCCL is not in the presets' natives this project uses), or for a backbone the
     *     loop does not train ({@link StepTrainers#requireTrainable}: torchvision's {@code resnet50_fpn_v2})
     */
    public TrainLoop(Config cfg, Options opt, DistributedGroup group) {
        if (group.worldSize() > 1 && !opt.device().is_cpu()) {
            throw new dev.frcnn.error.UserInputException(group.rendezvous().describe() + ": data-parallel training "
                    + "runs on the CPU (c10d's Gloo); device '" + opt.device().str().getString() + "' would need NCCL "
                    + "(org.bytedeco.pytorch.nccl.ProcessGroupNCCL), which this build does not use; "
                    + "train with --device cpu, or in one process");
        }
        StepTrainers.requireTrainable(cfg);
        this.group = group;
        boolean rank0 = group.rank() == 0;
        this.cfg = cfg;
        this.opt = rank0 ? opt : new Options(opt.train(), opt.test(), opt.outDir(), opt.resume(), opt.overwrite(),
                opt.device(), new PrintStream(OutputStream.nullOutputStream()), false, opt.stop());
        this.preprocessing = cfg.preprocessing();
        this.minInputSide = dev.frcnn.assembly.ModelFamily.of(cfg).minInputSide(cfg);
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
     * @throws TrainingDivergedException when a loss, or a parameter due to be saved, is NaN or infinite
     */
    public Result run() throws IOException {
        return run(List.of());
    }

    /**
     * As {@link #run()}, with {@code extraHooks} called after the run's own hooks at each point (tests).
     */
    Result run(List<HookBase> extraHooks) throws IOException {
        boolean rank0 = group.rank() == 0;
        // the other ranks find rank 0's files of this run in the directory, and only check that a resume has last.ckpt
        if (rank0 || opt.resume()) RunDirectory.checkStart(opt.outDir(), opt.resume(), rank0 && opt.overwrite());
        DetectionDataset train = DatasetLayouts.open(opt.train(), true, cfg.classNames(), cfg.maxImagePixels(),
                cfg.exifOrientationMode());
        List<String> classNames = train.labelNames();
        DetectionDataset test = DatasetLayouts.open(opt.test(), false, classNames, cfg.maxImagePixels(),
                cfg.exifOrientationMode());
        if (!test.categories().equals(train.categories())) {
            throw new DataException(test.indexFile(), "its categories " + test.categories() + " are not those of the "
                    + "training split " + train.indexFile() + ", " + train.categories());
        }
        // Every listed image and annotation of both splits, before anything is created or trained.
        DatasetCheck.Result checked = DatasetCheck.run(List.of(train, test), cfg.truncatedImagesMode(),
                (file, h, w) -> preprocessing.checkResizable(file, h, w, minInputSide));
        for (String w : checked.warnings()) opt.log().println("frcnn: warning: " + w);
        opt.log().printf("checked %d images of '%s' and '%s' in %.2f s%n", checked.images(), train.split(),
                test.split(), checked.seconds());
        train = checked.datasets().get(0);
        test = checked.datasets().get(1);
        if (rank0) {
            Files.createDirectories(opt.outDir());
            RunDirectory.removeStaleTemporaryFiles(opt.outDir(), opt.log());
        }
        List<Integer> trainable = new ArrayList<>();
        for (int i = 0; i < train.size(); i++) if (train.annotation(i).size() > 0) trainable.add(i);
        int skipped = train.size() - trainable.size();
        if (trainable.isEmpty()) {
            throw new DataException(train.indexFile(), "split '" + train.split()
                    + "' has no image with a non-difficult object");
        }

        // Random initialisation from the seed, so that the same seed gives the same run.
        org.bytedeco.pytorch.global.torch.manual_seed(cfg.seed());
        ReseedableSampler sampler = new ReseedableSampler(cfg.seed());
        StepTrainer trainer = StepTrainers.create(cfg, classNames, sampler, opt.device());
        DetectionModel detector = trainer.model();
        org.bytedeco.pytorch.Module model = detector.module();
        DistributedSampler shard = new DistributedSampler(trainable, cfg.seed(), group.rank(), group.worldSize());
        GradientAllReduce reduce = group.worldSize() > 1
                ? new GradientAllReduce(group, model, GradientAllReduce.BUCKET_BYTES) : null;
        if (reduce != null) trainer.setAfterBackward(reduce::averageGradients);
        DistributedStop stop = new DistributedStop(opt.stop(), group);
        TrainState st = new TrainState();
        Path last = opt.outDir().resolve(RunDirectory.LAST), best = opt.outDir().resolve(RunDirectory.BEST);
        LrSchedule.BestModel reloadBest = () -> Checkpointer.loadWeights(best, model);
        LrSchedule schedule = new LrSchedule(cfg, trainer.optimizer(), trainer.lrMultipliers(),
                reduce == null ? reloadBest : EvalBarrier.reloadBest(group, reloadBest, reduce), opt.log());
        if (opt.resume()) {
            Checkpoint.Meta m = Checkpointer.restore(last, model, trainer.optimizer());
            checkResumableBatchSize(last, m, cfg.batchSize());
            st.restore(m, shard);
            schedule.restore(m);
            opt.log().printf("resuming from %s: epoch %d, step %d of the epoch, best mAP %.4f%n", last,
                    st.epoch() + 1, st.iteration(), Math.max(st.bestMap(), 0));
        } else if (cfg.loadPath() != null) {
            trainer.loadInitialWeights(Path.of(cfg.loadPath()), cfg, opt.log());
        }
        // Every rank starts from rank 0's weights (DDP's broadcast of the module states), after the load or resume.
        if (reduce != null) reduce.broadcastParameters();
        if (!rank0) {
            opt.log().flush();
            try (PrefetchLoader loader = new PrefetchLoader(train, shard, StepTrainers.transform(cfg), preprocessing,
                    minInputSide, cfg.seed(), cfg.numWorkers())) {
                Checkpointer none = new Checkpointer(opt.outDir(), cfg, train.categories(), model, trainer.optimizer(),
                        schedule, st, () -> {});
                List<HookBase> hooks = new ArrayList<>(List.of(
                        new EvalBarrier(group, reduce, opt.log(), cfg.epoch(), null, stop, none), schedule));
                hooks.addAll(extraHooks);
                new SimpleTrainer(trainer, sampler, loader, st, none, stop, cfg.epoch(),
                        cfg.batchSize(), cfg.seed(), opt.device(), hooks).train();
            }
            return new Result(st.bestMap(), st.bestEpoch(), st.lastMap(), best, detector, null);
        }
        // The previous run goes only now that the data and weights of the new one have loaded.
        if (opt.overwrite()) RunDirectory.removeRun(opt.outDir(), opt.log());
        Path cfgOut = opt.outDir().resolve("config.json");
        try {
            Files.writeString(cfgOut, cfg.toJson());
        } catch (IOException e) {
            throw WriteFailures.naming(cfgOut, e);
        }
        LossLog losses = new LossLog(opt.outDir(), trainer.lossNames(), st.globalStep(), schedule, opt.log());
        Checkpointer checkpointer = new Checkpointer(opt.outDir(), cfg, train.categories(), model, trainer.optimizer(),
                schedule, st, losses);
        checkpointer.countInSamples(shard);
        EvalHook eval = new EvalHook(opt.outDir(), st.globalStep() > 0, detector, test, preprocessing, cfg, schedule,
                checkpointer, opt.stop(), opt.log());
        // A fresh run starts with last.ckpt = the initial state, so that a run diverging before its first periodic
        // checkpoint still leaves a state to resume from (with other settings).
        if (!opt.resume()) checkpointer.saveLast(st.epoch(), st.iteration());
        if (reduce != null) {
            opt.log().printf("data parallel: %d processes, %d images per epoch each (%d in all), gradients of %d "
                            + "values in %d buckets%n", group.worldSize(), shard.numSamples(), shard.datasetSize(),
                    reduce.values(), reduce.bucketCount());
        }
        if (skipped > 0) {
            opt.log().printf("note: %d of %d training images have no non-difficult object and are skipped%n", skipped, train.size());
        }

        // The hooks, in the order they run at each point: the bar closes before the loss curve is drawn and the
        // evaluation logs its line; the evaluation chooses best.ckpt before the decay reloads it; the lr is restored
        // after a warmed-up step, and decayed, before last.ckpt saves it.
        List<HookBase> hooks = new ArrayList<>();
        if (opt.progressBar()) hooks.add(new ProgressBarHook(opt.log(), cfg.epoch()));
        hooks.add(losses);
        // under data parallelism rank 0 evaluates inside the barrier that the other ranks wait at
        hooks.add(reduce == null ? eval : new EvalBarrier(group, reduce, opt.log(), cfg.epoch(), eval, stop, checkpointer));
        hooks.add(schedule);
        hooks.add(new PeriodicCheckpointer(checkpointer, cfg.checkpointEvery()));
        hooks.addAll(extraHooks);

        try (PrefetchLoader loader = new PrefetchLoader(train, shard, StepTrainers.transform(cfg), preprocessing, minInputSide,
                cfg.seed(), cfg.numWorkers())) {
            new SimpleTrainer(trainer, sampler, loader, st, checkpointer, stop, cfg.epoch(), cfg.batchSize(),
                    cfg.seed(), opt.device(), hooks).train();
        }
        return new Result(st.bestMap(), st.bestEpoch(), st.lastMap(), best, detector, eval.bestEvaluation());
    }

    /**
     * A checkpoint's position counts steps of its run's {@code batch_size} (times the world size, {@link Checkpointer}):
     * a resume within an epoch must keep that batch size (at an epoch's start it may change).
     *
     * @throws ConfigException if {@code last} stopped within an epoch with another {@code batch_size} than
     *     {@code batchSize}
     */
    static void checkResumableBatchSize(Path last, Checkpoint.Meta m, int batchSize) {
        int saved = m.config().batchSize();
        if (m.iteration() > 0 && saved != batchSize) {
            throw new ConfigException(last + " stopped within epoch " + (m.epoch() + 1) + " (position " + m.iteration()
                    + ") with batch_size " + saved + "; resuming within an epoch needs the same batch_size, got "
                    + batchSize + " (set batch_size=" + saved + ")");
        }
    }
}
