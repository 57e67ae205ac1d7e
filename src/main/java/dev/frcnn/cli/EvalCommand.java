package dev.frcnn.cli;

import dev.frcnn.assembly.LoadedModel;
import dev.frcnn.config.Config;
import dev.frcnn.data.DatasetCheck;
import dev.frcnn.data.VocDataset;
import dev.frcnn.eval.DetectionEvaluator;
import dev.frcnn.eval.VocEval;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.IntraOpThreads;
import org.bytedeco.pytorch.Device;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code frcnn eval}: VOC mAP of a model on a VOC-layout split; the last stdout line is {@code mAP: <value>}. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a model on a VOCdevkit/VOC2007-layout dataset (VOC07 11-point mAP by default).")
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "our .ckpt, or a PyTorch .pth")
    Path weights;

    @Option(names = "--data", required = true, description = "dataset directory (VOC2007 layout)")
    Path data;

    @Option(names = "--split", defaultValue = "test", description = "split file name (default: ${DEFAULT-VALUE})")
    String split;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu | cuda (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--config", description = "config for .pth weights; refused with a .ckpt, which carries its own (use --set)")
    Path config;

    @Option(names = "--set", description = "config override key=value (repeatable)")
    List<String> sets = new ArrayList<>();

    @Option(names = "--pr-curves", description = "write one precision-recall chart per class into this directory (PNG and SVG)")
    Path prCurves;

    @Override
    public Integer call() throws Exception {
        CheckpointConfigRule.check(config, weights);
        Config base = config != null ? Config.load(config) : Config.defaults();
        Device dev = LoadedModel.device(device);
        LoadedModel.Plan plan = LoadedModel.plan(weights, base, sets);
        IntraOpThreads.apply(plan.config().threads());
        LoadedModel m = LoadedModel.load(plan, dev);
        VocDataset ds = new VocDataset(data, split, true, m.classNames(), m.config().maxImagePixels(),
                m.config().exifOrientationMode());
        DatasetCheck.Result checked = DatasetCheck.run(List.of(ds), m.config().truncatedImagesMode(),
                (file, h, w) -> m.preprocessing().checkResizable(file, h, w, m.model().backbone().minInputSide()));
        for (String w : checked.warnings()) System.err.println("frcnn: warning: " + w);
        ds = checked.datasets().get(0);
        VocEval.Result r = DetectionEvaluator.run(m.model(), ds, m.preprocessing(), Thresholds.EVALUATE,
                m.config().testNum(), null).evaluate(m.config().use07Metric());
        print(r, m.classNames());
        if (prCurves != null) VocEval.writePrCurves(prCurves, r, m.classNames());
        System.out.printf("mAP: %.4f%n", r.map());
        return 0;
    }

    static void print(VocEval.Result r, List<String> names) {
        for (int c = 0; c < names.size(); c++) {
            double ap = c < r.ap().length ? r.ap()[c] : Double.NaN;
            System.out.printf("AP %-14s %s%n", names.get(c), Double.isNaN(ap) ? "n/a" : String.format("%.4f", ap));
        }
    }
}
