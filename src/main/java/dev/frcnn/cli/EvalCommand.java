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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code frcnn eval}: VOC mAP of a model on a VOC-layout split; the last stdout line is {@code mAP: <value>}. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a model on a VOCdevkit/VOC2007-layout dataset (VOC07 11-point mAP by default).")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    WeightsOptions model;

    @Mixin
    DataOption data;

    @Option(names = "--split", defaultValue = "test", description = "split file name (default: ${DEFAULT-VALUE})")
    String split;

    @Mixin
    DeviceOption device;

    @Mixin
    SetOption sets;

    @Option(names = "--pr-curves", description = "write one precision-recall chart per class into this directory (PNG and SVG)")
    Path prCurves;

    @Override
    public Integer call() throws Exception {
        Config base = model.baseConfig();
        Device dev = device.resolve();
        LoadedModel.Plan plan = LoadedModel.plan(model.weights(), base, sets.overrides());
        IntraOpThreads.apply(plan.config().threads());
        LoadedModel m = LoadedModel.load(plan, dev);
        VocDataset ds = new VocDataset(data.dir(), split, true, m.classNames(), m.config().maxImagePixels(),
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
