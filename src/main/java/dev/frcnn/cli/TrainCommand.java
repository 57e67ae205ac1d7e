package dev.frcnn.cli;

import dev.frcnn.config.Config;
import dev.frcnn.config.EvalMetric;
import dev.frcnn.data.DatasetLayouts;
import dev.frcnn.dist.DistributedGroup;
import dev.frcnn.dist.Rendezvous;
import dev.frcnn.tensor.IntraOpThreads;
import dev.frcnn.train.StopRequest;
import dev.frcnn.train.TrainLoop;
import dev.frcnn.train.TrainingStoppedException;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code frcnn train}: the reference's training recipe on a dataset in the VOC or COCO layout, or on COCO files
 * ({@code --annotations}/{@code --images} with {@code --test-annotations}/{@code --test-images}); the per-epoch
 * evaluation and {@code best.ckpt} follow the config's {@code eval_metric}. A run directory that holds a run
 * needs {@code --resume} or {@code --overwrite} (checked before anything is read). SIGTERM and SIGINT stop it
 * gracefully ({@link StopSignals}): the step in progress finishes, {@code last.ckpt} is saved, one line says where,
 * and the exit code is 143 or 130.
 *
 * <p>Data parallelism ({@code docs/distributed.md}): with torchrun's environment ({@code WORLD_SIZE} above 1, ...)
 * this process is one rank of a job ({@link Rendezvous}, {@link DistributedGroup}, joined within
 * {@code --dist-timeout}); with {@code --nproc-per-node N} it is the launcher of this machine's {@code N} workers
 * ({@link WorkerLauncher}).
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a Faster R-CNN on a VOC- or COCO-layout dataset (trainval -> test), or on COCO JSON "
                + "files.",
                "SIGTERM or SIGINT (Ctrl-C) finishes the current step, saves OUT/last.ckpt and exits with 143 or 130;"
                        + " --resume continues from there."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", defaultValue = "configs/voc07-vgg16.json", description = "config JSON (default: ${DEFAULT-VALUE})")
    Path config;

    @Mixin
    DataOption data;

    @Option(names = "--out", required = true, description = "run directory (checkpoints, losses, curves)")
    Path out;

    @Mixin
    SetOption sets;

    @Option(names = "--resume", description = "continue the run in OUT from OUT/last.ckpt (where it stopped, "
            + "mid-epoch included)")
    boolean resume;

    @Option(names = "--overwrite", description = "replace the run in OUT: once the data and weights have loaded, "
            + "removes its last.ckpt, best.ckpt, config.json, losses.csv, metrics.csv and loss_curve.png (other "
            + "files stay). Without --resume or --overwrite, an OUT that holds a run is refused (exit code 2)")
    boolean overwrite;

    @Mixin
    DeviceOption device;

    @Option(names = "--train-split", defaultValue = "trainval", description = "default: ${DEFAULT-VALUE}")
    String trainSplit;

    @Option(names = "--test-split", defaultValue = "test", description = "default: ${DEFAULT-VALUE}")
    String testSplit;

    @Option(names = "--test-annotations", description = "with --annotations: the evaluation split's COCO JSON")
    Path testAnnotations;

    @Option(names = "--test-images", description = "with --annotations: the image folder of --test-annotations")
    Path testImages;

    @Mixin
    ProgressOption progress;

    @Option(names = "--nproc-per-node", paramLabel = "N", description = "start N worker processes on this machine "
            + "for data-parallel training (torchrun's option; docs/distributed.md); each runs this command line "
            + "without the launcher options. If one fails, the others are stopped and the exit code is 1; SIGTERM or "
            + "SIGINT to the launcher or to one worker stops every worker after the same step (rank 0 saves "
            + "OUT/last.ckpt), exit code 143 or 130")
    Integer nprocPerNode;

    @Option(names = "--nnodes", paramLabel = "M", defaultValue = "1", description = "machines in the job, each "
            + "running a launcher with the same --nproc-per-node (default: ${DEFAULT-VALUE})")
    int nnodes;

    @Option(names = "--node-rank", paramLabel = "R", defaultValue = "0", description = "this machine's rank, "
            + "0..M-1; machine 0 runs rank 0 (default: ${DEFAULT-VALUE})")
    int nodeRank;

    @Option(names = "--master-addr", paramLabel = "HOST", defaultValue = "127.0.0.1", description = "address of "
            + "machine 0, where rank 0 serves the rendezvous (default: ${DEFAULT-VALUE})")
    String masterAddr;

    @Option(names = "--master-port", paramLabel = "PORT", defaultValue = "29500", description = "port of rank 0's "
            + "rendezvous store (default: ${DEFAULT-VALUE})")
    int masterPort;

    @Option(names = "--dist-timeout", paramLabel = "SECONDS", defaultValue = "300", description = "data-parallel "
            + "training: the longest the rendezvous and each collective may take before every rank ends with exit "
            + "code 1 (default: ${DEFAULT-VALUE})")
    int distTimeout;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (distTimeout < 1) throw new BadInputException("--dist-timeout " + distTimeout + ": expected at least 1 second");
        if (nprocPerNode != null) return launch();
        List<String> launcherOnly = spec.commandLine().getParseResult().matchedOptions().stream()
                .map(o -> o.longestName()).filter(WorkerLauncher.LAUNCHER_OPTIONS::contains).toList();
        if (!launcherOnly.isEmpty())
            throw new BadInputException(String.join(", ", launcherOnly) + " need --nproc-per-node");
        DatasetLayouts.Source train = data.source(trainSplit), test;
        if (data.explicitFiles()) {
            if (testAnnotations == null || testImages == null) {
                throw new BadInputException("--annotations and --images give the training split; give the evaluation "
                        + "split as --test-annotations FILE --test-images DIR");
            }
            test = DatasetLayouts.Source.files(testAnnotations, testImages);
        } else if (testAnnotations != null || testImages != null) {
            throw new BadInputException("--test-annotations and --test-images go with --annotations and --images; "
                    + "with --data the evaluation split is --test-split");
        } else {
            test = data.source(testSplit);
        }
        // a relative path that is not found here is looked up in the project (the default configs/...); if it is
        // in neither place, the message names the path as the user gave it
        Path home = Paths.home().resolve(config);
        Path cfgFile = config.isAbsolute() || config.toFile().exists() || !home.toFile().exists() ? config : home;
        // torchvision's family trains at its transform's sizes (800/1333) unless the config or --set gives others
        Config cfg = dev.frcnn.assembly.ModelFamily.resolve(Config.load(cfgFile), sets::applyTo);
        IntraOpThreads.apply(cfg.threads());
        // torchrun's environment, if any: one process of a data-parallel job (WORLD_SIZE > 1)
        Rendezvous rendezvous = Rendezvous.fromEnvironment();
        StopRequest stop = new StopRequest();
        TrainLoop.Result r;
        try (DistributedGroup group = DistributedGroup.join(rendezvous, Duration.ofSeconds(distTimeout));
             // a signal to any rank stops the whole job at one step boundary, where rank 0 saves last.ckpt
             StopSignals signals = StopSignals.install(stop, System.err)) {
            try {
                r = new TrainLoop(cfg, new TrainLoop.Options(train, test, out, resume, overwrite, device.resolve(),
                        System.err, progress.show(), stop), group).run();
            } finally {
                // closed while the handlers are still ours: when a peer dies, the launcher's SIGTERM reaches this
                // rank while its failed collective unwinds; closing the group then takes 0-12 ms, and a SIGTERM in
                // that time, under the JVM's own handler, ended the process before Main printed this rank's failure
                // line (2 of 9 runs of DataParallelTrainingTest's kill test; 0 of 20 with the close here)
                group.close();
            }
        } catch (TrainingStoppedException e) {
            // one line for the job: rank 0's (the others stopped at the same step and saved nothing)
            if (rendezvous.rank() == 0) System.err.println("frcnn: " + e.getMessage() + "; continue with --resume");
            return e.reason().exitCode();
        }
        if (rendezvous.rank() != 0) return 0;
        EvalMetric metric = cfg.evalMetricMode();
        System.out.printf("best %s %.4f at epoch %d, checkpoint %s%n", metric.label(), r.bestMap(), r.bestEpoch() + 1,
                r.bestCheckpoint());
        System.out.printf("%s: %.4f%n", metric.isVoc() ? "mAP" : "AP", r.bestMap());
        return 0;
    }

    /** {@code --nproc-per-node}: this machine's workers of the job, each running this command line without it. */
    private int launch() throws Exception {
        WorkerLauncher.Job job = new WorkerLauncher.Job(nprocPerNode, nnodes, nodeRank, masterAddr, masterPort);
        List<String> problems = job.problems();
        if (!problems.isEmpty()) throw new BadInputException(String.join("; ", problems));
        List<String> all = spec.commandLine().getParseResult().originalArgs();
        int at = all.indexOf(spec.name());
        List<String> args = new ArrayList<>(List.of(spec.name()));
        args.addAll(WorkerLauncher.workerArgs(all.subList(at + 1, all.size())));
        return WorkerLauncher.run(job, WorkerLauncher.thisJvm(all.size()), args, System.err);
    }
}
