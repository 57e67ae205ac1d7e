package dev.frcnn.cli;

import dev.frcnn.config.Config;
import dev.frcnn.tensor.IntraOpThreads;
import dev.frcnn.train.StopRequest;
import dev.frcnn.train.TrainLoop;
import dev.frcnn.train.TrainingStoppedException;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code frcnn train}: the reference's training recipe on a VOC-layout dataset. A run directory that holds a run
 * needs {@code --resume} or {@code --overwrite} (checked before anything is read). SIGTERM and SIGINT stop it
 * gracefully ({@link StopSignals}): the step in progress finishes, {@code last.ckpt} is saved, one line says where,
 * and the exit code is 143 or 130.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a Faster R-CNN on a VOCdevkit/VOC2007-layout dataset (trainval -> test).",
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

    @Mixin
    ProgressOption progress;

    @Override
    public Integer call() throws Exception {
        // a relative path that is not found here is looked up in the project (the default configs/...); if it is
        // in neither place, the message names the path as the user gave it
        Path home = Paths.home().resolve(config);
        Path cfgFile = config.isAbsolute() || config.toFile().exists() || !home.toFile().exists() ? config : home;
        Config cfg = sets.applyTo(Config.load(cfgFile));
        IntraOpThreads.apply(cfg.threads());
        StopRequest stop = new StopRequest();
        TrainLoop.Result r;
        try (StopSignals signals = StopSignals.install(stop, System.err)) {
            r = new TrainLoop(cfg, new TrainLoop.Options(data.dir(), out, resume, overwrite, trainSplit, testSplit,
                    device.resolve(), System.err, progress.show(), stop)).run();
        } catch (TrainingStoppedException e) {
            System.err.println("frcnn: " + e.getMessage() + "; continue with --resume");
            return e.reason().exitCode();
        }
        System.out.printf("best mAP %.4f at epoch %d, checkpoint %s%n", r.bestMap(), r.bestEpoch() + 1, r.bestCheckpoint());
        System.out.printf("mAP: %.4f%n", r.bestMap());
        return 0;
    }
}
