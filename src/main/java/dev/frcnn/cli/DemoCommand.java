package dev.frcnn.cli;

import dev.frcnn.assembly.LoadedModel;
import dev.frcnn.config.Config;
import dev.frcnn.data.DecodedImage;
import dev.frcnn.data.ImageReader;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.data.TruncatedImages;
import dev.frcnn.data.VocDataset;
import dev.frcnn.eval.DetectionEvaluator;
import dev.frcnn.eval.VocEval;
import dev.frcnn.model.Detection;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.IntraOpThreads;
import dev.frcnn.train.RunDirectory;
import dev.frcnn.train.StopRequest;
import dev.frcnn.train.TrainLoop;
import dev.frcnn.train.TrainingStoppedException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code frcnn demo}: the main job on a bundled default, with nothing to download. Writes a synthetic VOC-format
 * dataset (coloured shapes on textured backgrounds), trains the demo detector on it on the CPU
 * ({@code configs/demo.json}: the small backbone on small images), evaluates VOC07 mAP on its test split and
 * writes annotated test images. The last stdout line is {@code mAP: <value>}.
 *
 * <p>Everything under {@code --out} is generated, so a demo replaces the outputs of a previous demo there
 * ({@code data/}, {@code run/} with {@code --overwrite}'s rule, {@code detections/}, {@code pr_curves/}): running it
 * twice works. It refuses (exit code 2) an {@code OUT/run} that holds a run not trained on the demo's shapes, which a
 * demo did not make. SIGTERM and SIGINT during its training stop it as they stop {@code train}
 * ({@link StopSignals}); a later demo starts over.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Train and evaluate on a generated shapes dataset (CPU, a few minutes); prints mAP.",
                "Replaces a previous demo's outputs in --out (data/, run/, detections/, pr_curves/); refuses an "
                        + "OUT/run holding another run. SIGTERM/SIGINT during training: saves OUT/run/last.ckpt, exits "
                        + "143/130."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "runs/demo", description = "output directory (default: ${DEFAULT-VALUE})")
    Path out;

    @Mixin
    SetOption sets;

    @Mixin
    DeviceOption device;

    @Option(names = "--train-images", defaultValue = "400", description = "default: ${DEFAULT-VALUE}")
    int trainImages;

    @Option(names = "--test-images", defaultValue = "100", description = "default: ${DEFAULT-VALUE}")
    int testImages;

    @Option(names = "--show", defaultValue = "8", description = "annotated test images to write (default: ${DEFAULT-VALUE})")
    int show;

    @Mixin
    ProgressOption progress;

    @Override
    public Integer call() throws Exception {
        if (trainImages < 1 || testImages < 1) throw new BadInputException("--train-images and --test-images must be >= 1");
        Config cfg = demoConfig(loadDemoConfig(), sets.overrides());
        Path run = out.resolve("run");
        checkOwnRun(run);
        IntraOpThreads.apply(cfg.threads());
        long t0 = System.nanoTime();
        Path data = out.resolve("data");
        new SyntheticVoc(cfg.seed(), 160, 256).write(data, trainImages, testImages);
        System.out.printf("dataset: %d train + %d test images of %s in %s%n", trainImages, testImages,
                SyntheticVoc.CLASS_NAMES, data);
        if (cfg.classNames().isEmpty()) {
            cfg = cfg.withOverrides(List.of("class_names=" + new com.fasterxml.jackson.databind.ObjectMapper()
                    .writeValueAsString(SyntheticVoc.CLASS_NAMES)));
        }
        StopRequest stop = new StopRequest();
        TrainLoop.Result r;
        try (StopSignals signals = StopSignals.install(stop, System.err)) {
            r = new TrainLoop(cfg, new TrainLoop.Options(data, run, false, true, "train", "test",
                    device.resolve(), System.err, progress.show(), stop)).run();
        } catch (TrainingStoppedException e) {
            System.err.println("frcnn: " + e.getMessage() + "; the next bin/frcnn demo starts over");
            return e.reason().exitCode();
        }
        System.out.printf("trained %d epochs in %.1f s; best epoch %d%n", cfg.epoch(), (System.nanoTime() - t0) / 1e9,
                r.bestEpoch() + 1);

        LoadedModel best = LoadedModel.load(r.bestCheckpoint(), cfg, List.of(), device.resolve());
        VocDataset test = new VocDataset(data, "test", true, best.classNames(), cfg.maxImagePixels(),
                cfg.exifOrientationMode());
        // The best epoch's evaluation is that of the weights in best.ckpt; evaluate again only after a resume.
        VocEval.Result ev = r.bestEvaluation() != null ? r.bestEvaluation()
                : DetectionEvaluator.run(best.model(), test, best.preprocessing(), Thresholds.EVALUATE,
                        cfg.testNum(), null).evaluate(cfg.use07Metric());
        VocEval.writePrCurves(out.resolve("pr_curves"), ev, best.classNames());
        Path shown = out.resolve("detections");
        for (int i = 0; i < Math.min(show, test.size()); i++) {
            try (PointerScope s = new PointerScope()) {
                Path img = test.imagePath(i);
                DecodedImage image = ImageReader.read(img, cfg.maxImagePixels(), TruncatedImages.LOAD,
                        cfg.exifOrientationMode());
                List<Detection> dets = best.model().detect(image.rgbChw(), best.preprocessing(), Thresholds.VISUALIZE);
                DetectionOutput.write(shown, img, image, dets);
            }
        }
        EvalCommand.print(ev, best.classNames());
        System.out.printf("annotated test images: %s; PR curves: %s; run: %s; total %.1f s%n", shown,
                out.resolve("pr_curves"), run, (System.nanoTime() - t0) / 1e9);
        System.out.printf("mAP: %.4f%n", ev.map());
        return 0;
    }

    /**
     * Refuses a run directory that holds a run the demo did not make: one whose {@code config.json} does not name
     * the demo's classes ({@link SyntheticVoc#CLASS_NAMES}) or cannot be read. A previous demo's run passes and is
     * replaced.
     *
     * @throws BadInputException naming the directory
     */
    static void checkOwnRun(Path run) {
        List<String> files = RunDirectory.runFiles(run);
        if (files.isEmpty()) return;
        List<String> names = new ArrayList<>();
        try {
            for (var n : new com.fasterxml.jackson.databind.ObjectMapper().readTree(run.resolve("config.json").toFile())
                    .path("class_names")) {
                names.add(n.asText());
            }
        } catch (IOException | RuntimeException unreadable) {
            names.clear();
        }
        if (!names.equals(SyntheticVoc.CLASS_NAMES)) {
            throw new BadInputException(run + " holds a training run that the demo did not make (" + String.join(", ", files)
                    + "); the demo replaces only its own runs: choose another --out");
        }
    }

    /**
     * The demo's settings: {@code configs/demo.json}, then the settings for the chosen backbone
     * ({@code configs/demo/<backbone>.json}, if there is one: e.g. warm-up and zero-initialised residuals for
     * ResNets trained from scratch, {@code docs/resnet.md}), then the user's {@code --set} overrides.
     */
    static Config demoConfig(Config base, List<String> sets) throws IOException {
        Config chosen = base.withOverrides(sets);
        // The backbone's file applies to the demo config on that backbone (its keys may be valid only there).
        Config onBackbone = base.withOverrides(List.of("backbone=" + chosen.backbone()));
        Config withBackbone = withResource(onBackbone, "configs/demo/" + chosen.backbone() + ".json");
        return withBackbone == onBackbone ? chosen : withBackbone.withOverrides(sets);
    }

    /** {@code base} with the JSON object of a project file (or the copy bundled in the jar) applied; base if absent. */
    private static Config withResource(Config base, String relative) throws IOException {
        Path f = Paths.home().resolve(relative);
        if (Files.isRegularFile(f)) return base.withFile(f);
        try (InputStream in = DemoCommand.class.getResourceAsStream("/" + relative)) {
            if (in == null) return base;
            Path tmp = Files.createTempFile("demo", ".json");
            try {
                Files.write(tmp, in.readAllBytes());
                return base.withFile(tmp);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** {@code configs/demo.json} of the project (bin/frcnn's home), else the copy bundled in the jar. */
    static Config loadDemoConfig() throws IOException {
        Config defaults = Config.defaults();
        Config demo = withResource(defaults, "configs/demo.json");
        if (demo == defaults) throw new IllegalStateException("configs/demo.json not found");
        return demo;
    }
}
