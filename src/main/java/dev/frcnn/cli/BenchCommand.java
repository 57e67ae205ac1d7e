package dev.frcnn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.assembly.Detectors;
import dev.frcnn.assembly.LoadedModel;
import dev.frcnn.assembly.ModelFamily;
import dev.frcnn.bench.CocoEvalBench;
import dev.frcnn.bench.ModelBench;
import dev.frcnn.bench.OpsBench;
import dev.frcnn.config.Config;
import dev.frcnn.model.DetectionModel;
import dev.frcnn.tensor.IntraOpThreads;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code frcnn bench}: timings of the ops, inference, one training step and the COCO evaluation. With {@code --json} the last
 * stdout line is one JSON object (the contract in shared/design.md).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark the native ops (ops), predict (infer), one train_step (train) or the COCO metric"
                + " on a synthetic COCO val2017-sized input (coco-eval).")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--what", defaultValue = "ops", description = "ops | infer | train | coco-eval (default: ${DEFAULT-VALUE})")
    String what;

    @Mixin
    DeviceOption device;

    @Option(names = "--input", description = "ops: input JSON (default: ../shared/bench/ops_input.json); coco-eval:"
            + " directory of the synthetic " + CocoEvalBench.GT_FILE + " and " + CocoEvalBench.DETS_FILE
            + ", written there when missing (default: frcnn-coco-eval-bench in the temporary directory)")
    Path input;

    @Option(names = "--reps", defaultValue = "10", description = "timed repetitions (default: ${DEFAULT-VALUE})")
    int reps;

    @Option(names = "--warmup", defaultValue = "2", description = "untimed repetitions first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--threads", defaultValue = "0", description = "LibTorch intra-op threads, 0 = default")
    int threads;

    @Mixin
    SetOption sets;

    @Option(names = "--json", description = "print the result as one JSON object on the last line")
    boolean json;

    @Option(names = "--weights", description = "infer/train: weights (.ckpt or .pth) instead of random ones")
    Path weights;

    @Option(names = "--image", description = "infer/train: image (default: demo.jpg of the golden fixtures)")
    Path image;

    @Option(names = "--callers", defaultValue = "1",
            description = "infer: concurrent callers of the throughput run (images_per_s; default: ${DEFAULT-VALUE})")
    int callers;

    @Override
    public Integer call() throws Exception {
        if (reps < 1) throw new BadInputException("--reps must be >= 1, got " + reps);
        if (warmup < 0) throw new BadInputException("--warmup must be >= 0, got " + warmup);
        if (callers < 1) throw new BadInputException("--callers must be >= 1, got " + callers);
        if (threads < 0) throw new BadInputException("--threads must be >= 0, got " + threads);
        if (what.equals("coco-eval")) return print(cocoEval()); // pure Java: no LibTorch, one thread
        Device dev = device.resolve(); // cpu | cuda, and cuda only where a device is available
        IntraOpThreads.apply(threads);
        Map<String, Object> result = switch (what) {
            case "ops" -> {
                Path in = input != null ? input : Paths.shared().resolve("bench/ops_input.json");
                if (!Files.isRegularFile(in)) throw new BadInputException(in + ": ops input file not found");
                yield OpsBench.run(in, device.name(), warmup, reps);
            }
            case "infer", "train" -> {
                Path img = image != null ? image : Paths.golden().resolve("demo.jpg");
                if (!Files.isRegularFile(img)) throw new BadInputException(img + ": image not found (use --image)");
                DetectionModel model;
                Config cfg;
                if (weights != null) {
                    LoadedModel m = LoadedModel.load(weights, Config.defaults(), sets.overrides(), dev);
                    model = m.model();
                    cfg = m.config();
                } else {
                    cfg = ModelFamily.resolve(Config.defaults(), sets::applyTo);
                    model = Detectors.createModel(cfg, ModelFamily.of(cfg).classNames(cfg));
                    model.module().to(dev, false);
                }
                if (what.equals("infer")) yield ModelBench.infer(model, cfg, img, dev, warmup, reps, callers);
                yield ModelBench.train(model, cfg, img, dev, warmup, reps);
            }
            default -> throw new BadInputException("--what must be ops, infer, train or coco-eval, got '" + what + "'");
        };
        return print(result);
    }

    /** The synthetic files in {@code --input} (written when either is missing), then the timed evaluations. */
    private Map<String, Object> cocoEval() {
        Path dir = input != null ? input : Path.of(System.getProperty("java.io.tmpdir"), "frcnn-coco-eval-bench");
        Path gt = dir.resolve(CocoEvalBench.GT_FILE), dets = dir.resolve(CocoEvalBench.DETS_FILE);
        if (!Files.isRegularFile(gt) || !Files.isRegularFile(dets)) {
            System.err.println("frcnn bench: writing the synthetic COCO input to " + dir);
            CocoEvalBench.generate(dir, CocoEvalBench.IMAGES, CocoEvalBench.BOXES, CocoEvalBench.DETS_PER_IMAGE,
                    CocoEvalBench.SEED);
        }
        return CocoEvalBench.run(gt, dets, warmup, reps);
    }

    private int print(Map<String, Object> result) throws Exception {
        ObjectMapper om = new ObjectMapper();
        if (json) {
            System.out.println(om.writeValueAsString(result));
        } else {
            result.forEach((k, v) -> System.out.printf("%-22s %s%n", k, v instanceof long[] a ? java.util.Arrays.toString(a)
                    : v instanceof double[] d ? java.util.Arrays.toString(d) : v));
        }
        return 0;
    }
}
