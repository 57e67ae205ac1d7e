package dev.frcnn.cli;

import dev.frcnn.assembly.LoadedModel;
import dev.frcnn.config.Config;
import dev.frcnn.config.EvalMetric;
import dev.frcnn.data.DatasetCheck;
import dev.frcnn.data.DatasetLayouts;
import dev.frcnn.data.DetectionDataset;
import dev.frcnn.eval.CocoDetections;
import dev.frcnn.eval.CocoEval;
import dev.frcnn.eval.CocoResults;
import dev.frcnn.eval.DetectionEvaluator;
import dev.frcnn.eval.VocEval;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.IntraOpThreads;
import org.bytedeco.pytorch.Device;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code frcnn eval}: a model's metrics on a split of a VOC- or COCO-layout dataset, or of a COCO file
 * ({@code --annotations}/{@code --images}). {@code --metric} picks {@code voc07}, {@code voc} and/or {@code coco}
 * (default: the config's {@code eval_metric}, VOC07 unless set): each VOC metric prints its per-class APs and a line
 * {@code mAP: <value>}; COCO prints pycocotools' 12 summary lines, the per-category AP@[.5:.95] and a line
 * {@code AP: <value>} (6 decimals). {@code --results OUT.json} writes the detections in COCO's results format with
 * the dataset's ids ({@link CocoResults}). {@code docs/evaluation.md}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a model on a VOC- or COCO-layout dataset (VOC07 11-point mAP by default; COCO AP with "
                + "--metric coco).")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    WeightsOptions model;

    @Mixin
    DataOption data;

    @Option(names = "--split", defaultValue = "test", description = "split of --data: VOC split file name or COCO "
            + "<split> (default: ${DEFAULT-VALUE})")
    String split;

    @Mixin
    DeviceOption device;

    @Mixin
    SetOption sets;

    @Option(names = "--metric", paramLabel = "METRIC", description = "voc07 | voc | coco; several as voc07,coco or "
            + "the option repeated (default: the config's eval_metric, voc07 unless set)")
    List<String> metricNames;

    @Option(names = "--results", paramLabel = "OUT.json", description = "write the detections in the COCO results "
            + "format (image_id, category_id, bbox [x, y, w, h], score) with the dataset's ids")
    Path results;

    @Option(names = "--pr-curves", description = "write one precision-recall chart per class into this directory "
            + "(PNG and SVG; from the first VOC metric)")
    Path prCurves;

    @Override
    public Integer call() throws Exception {
        Config base = model.baseConfig();
        Device dev = device.resolve();
        DatasetLayouts.Source source = data.source(split);
        if (results != null) checkResultsFile(results);
        LoadedModel.Plan plan = LoadedModel.plan(model.weights(), base, sets.overrides());
        List<EvalMetric> metrics;
        try {
            metrics = metricNames == null ? List.of(plan.config().evalMetricMode()) : EvalMetric.parseList(metricNames);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("--metric: " + e.getMessage().replace("eval_metric must", "a metric must"));
        }
        IntraOpThreads.apply(plan.config().threads());
        // The layout, the annotation file and the class names are checked before the weights load; the images after.
        DetectionDataset ds = DatasetLayouts.open(source, false, plan.classNames(), plan.config().maxImagePixels(),
                plan.config().exifOrientationMode());
        LoadedModel m = LoadedModel.load(plan, dev);
        DatasetCheck.Result checked = DatasetCheck.run(List.of(ds), m.config().truncatedImagesMode(),
                (file, h, w) -> m.preprocessing().checkResizable(file, h, w, m.model().minInputSide()));
        for (String w : checked.warnings()) System.err.println("frcnn: warning: " + w);
        ds = checked.datasets().get(0);
        DetectionEvaluator.Run run = DetectionEvaluator.evaluate(m.model(), ds, m.preprocessing(), Thresholds.EVALUATE,
                m.config().testNum(), null);
        CocoDetections dets = run.cocoDetections(ds.categories());
        if (results != null) CocoResults.write(results, dets);
        boolean curvesDone = false;
        for (EvalMetric metric : metrics) {
            if (metrics.size() > 1) System.out.println("== " + metric.configName() + " ==");
            if (metric.isVoc()) {
                VocEval.Result r = run.voc().evaluate(metric == EvalMetric.VOC07);
                print(r, m.classNames());
                if (prCurves != null && !curvesDone) {
                    VocEval.writePrCurves(prCurves, r, m.classNames());
                    curvesDone = true;
                }
                System.out.printf("mAP: %.4f%n", r.map());
            } else {
                CocoEval.Result r = CocoEval.evaluate(run.cocoGroundTruth(), dets, CocoEval.Params.defaults());
                printCoco(r, ds.categories().names());
                System.out.printf(Locale.ROOT, "AP: %.6f%n", r.stats()[0]);
            }
        }
        if (results != null) System.err.println("frcnn: wrote " + dets.detections().size() + " detections to " + results);
        return 0;
    }

    /** Refuses a results path that is a directory or whose directory does not exist (before anything is loaded). */
    private static void checkResultsFile(Path results) {
        if (Files.isDirectory(results)) throw new BadInputException("--results " + results + " is a directory");
        Path parent = results.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new BadInputException("--results " + results + ": the directory " + parent + " does not exist");
        }
    }

    static void print(VocEval.Result r, List<String> names) {
        for (int c = 0; c < names.size(); c++) {
            double ap = c < r.ap().length ? r.ap()[c] : Double.NaN;
            System.out.printf("AP %-14s %s%n", names.get(c), Double.isNaN(ap) ? "n/a" : String.format("%.4f", ap));
        }
    }

    /** The 12 numbers as pycocotools' {@code summarize()} prints them, then the AP@[.5:.95] of each category. */
    static void printCoco(CocoEval.Result r, List<String> names) {
        String[] iou = {"0.50:0.95", "0.50", "0.75", "0.50:0.95", "0.50:0.95", "0.50:0.95"};
        String[] area = {"all", "all", "all", "small", "medium", "large"};
        int[] md = r.params().maxDets();
        int[] maxDets = {md[md.length - 1], md[md.length - 1], md[md.length - 1], md[md.length - 1],
                md[md.length - 1], md[md.length - 1], md[0], md[Math.min(1, md.length - 1)], md[md.length - 1],
                md[md.length - 1], md[md.length - 1], md[md.length - 1]};
        for (int k = 0; k < 12; k++) {
            boolean ap = k < 6;
            System.out.printf(Locale.ROOT, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %.3f%n",
                    ap ? "Average Precision" : "Average Recall", ap ? "(AP)" : "(AR)", ap ? iou[k] : "0.50:0.95",
                    area[k < 6 ? k : (k < 9 ? 0 : k - 6)], maxDets[k], r.stats()[k]);
        }
        for (int c = 0; c < names.size(); c++) {
            double ap = c < r.perCategoryAp().length ? r.perCategoryAp()[c] : -1;
            System.out.printf(Locale.ROOT, "AP@[.5:.95] %-14s %s%n", names.get(c),
                    ap < 0 ? "n/a" : String.format(Locale.ROOT, "%.4f", ap));
        }
    }
}
