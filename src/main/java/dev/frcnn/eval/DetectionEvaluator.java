package dev.frcnn.eval;

import dev.frcnn.config.EvalMetric;
import dev.frcnn.data.CocoCategories;
import dev.frcnn.data.DetectionDataset;
import dev.frcnn.data.ImageTooSmallException;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.model.Detection;
import dev.frcnn.model.DetectionModel;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.roi.Thresholds;
import org.bytedeco.javacpp.PointerScope;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * Runs a detector over a dataset split and scores it; mirrors the reference's {@code train.eval(dataloader,
 * faster_rcnn, test_num)}: each image is detected with {@link DetectionModel#detect} ({@link FasterRCNN#detect}: preprocessing, no flip, then
 * {@code predict} at the given thresholds; the reference evaluates with the {@code evaluate} preset), and
 * {@link VocEval} accumulates detections against the gt boxes in original-image pixels, difficult objects flagged.
 * {@link #evaluate} also keeps every image's detections, from which {@link Run} gives the COCO metric
 * ({@link CocoEval} over {@link CocoGroundTruths} of the dataset) and the COCO results list ({@link CocoResults}).
 * Any {@link DetectionDataset} (VOC, COCO) is evaluated the same way.
 */
public final class DetectionEvaluator {
    private DetectionEvaluator() {}

    /**
     * The detections of one evaluation with what scores them.
     *
     * @param data the dataset evaluated
     * @param images the number of its first images detected on
     * @param detections each of those images' detections, in dataset order (original-image pixels)
     * @param voc the VOC accumulator holding every image's matches; call {@link VocEval#evaluate(boolean)}
     */
    public record Run(DetectionDataset data, int images, List<List<Detection>> detections, VocEval voc) {
        public Run {
            detections = List.copyOf(detections);
        }

        /**
         * The detections per distinct image id ({@link DetectionDataset#imageId}; an image listed twice is taken
         * once, as {@link CocoGroundTruths} takes it).
         */
        public List<CocoResults.ImageDetections> imageDetections() {
            List<CocoResults.ImageDetections> out = new ArrayList<>(images);
            Set<Long> seen = new HashSet<>();
            for (int i = 0; i < images; i++) {
                long id = data.imageId(i);
                if (seen.add(id)) out.add(new CocoResults.ImageDetections(id, detections.get(i)));
            }
            return out;
        }

        /**
         * The detections as a COCO results list with the dataset's image ids and {@code categories}' ids.
         *
         * @param categories label to COCO category id (the dataset's, {@link DetectionDataset#categories()})
         */
        public CocoDetections cocoDetections(CocoCategories categories) {
            return CocoResults.of(imageDetections(), categories);
        }

        /** The COCO metric's ground truth: {@link CocoGroundTruths#of} the dataset's evaluated images. */
        public CocoGroundTruth cocoGroundTruth() {
            return CocoGroundTruths.of(data, images);
        }

        /**
         * The COCO box evaluation (pycocotools' default parameters) of the detections against
         * {@link #cocoGroundTruth()}, with the dataset's ids.
         */
        public CocoEval.Result coco() {
            return CocoEval.evaluate(cocoGroundTruth(), cocoDetections(data.categories()), CocoEval.Params.defaults());
        }
    }

    /**
     * @param model the detector
     * @param data the test split, read for evaluation (difficult objects kept and flagged)
     * @param pre min/max size and normalisation matching the weights
     * @param thresholds score and NMS thresholds ({@link Thresholds#EVALUATE} in the reference)
     * @param testNum as the reference's {@code test_num}: it stops after image index {@code testNum}, so at most
     *     {@code testNum + 1} images are evaluated
     * @param progress called with the number of images done (may be null)
     * @return the evaluator holding every image's matches; call {@link VocEval#evaluate(boolean)}
     * @throws ImageTooSmallException naming the image file, for an image the preprocessing would resize below the
     *     backbone's smallest input (an image without proposals just has no detections)
     */
    public static VocEval run(DetectionModel model, DetectionDataset data, Preprocessing pre, Thresholds thresholds,
                              int testNum, IntConsumer progress) {
        return evaluate(model, data, pre, thresholds, testNum, progress).voc();
    }

    /**
     * As {@link #run}, keeping the detections for the COCO metric and results files.
     *
     * @return the run: the VOC accumulator (the same as {@link #run}'s) and every image's detections
     * @throws ImageTooSmallException as {@link #run}
     */
    public static Run evaluate(DetectionModel model, DetectionDataset data, Preprocessing pre, Thresholds thresholds,
                               int testNum, IntConsumer progress) {
        VocEval eval = new VocEval(0.5);
        int n = Math.min(data.size(), testNum + 1);
        List<List<Detection>> all = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            try (PointerScope s = new PointerScope()) {
                DetectionDataset.Example ex = data.get(i);
                List<Detection> dets;
                try {
                    dets = model.detect(ex.image(), pre, thresholds);
                } catch (ImageTooSmallException e) {
                    throw e.withFile(data.imagePath(i));
                }
                eval.add(toDetections(dets), VocEval.GroundTruth.of(ex.bbox(), ex.label(), ex.difficult()));
                all.add(dets);
            }
            if (progress != null) progress.accept(i + 1);
        }
        return new Run(data, n, all, eval);
    }

    /**
     * The headline number of {@code metric} for a run: VOC07 or VOC mAP ({@link VocEval.Result#map()}), or COCO's
     * AP@[.5:.95] ({@code stats[0]} of {@link Run#coco()}).
     */
    public static double headline(Run run, EvalMetric metric) {
        return switch (metric) {
            case VOC07 -> run.voc().evaluate(true).map();
            case VOC -> run.voc().evaluate(false).map();
            case COCO -> run.coco().stats()[0];
        };
    }

    /** Converts typed detections to the evaluator's arrays (boxes as (ymin, xmin, ymax, xmax)). */
    public static VocEval.Detections toDetections(List<Detection> dets) {
        float[] bbox = new float[dets.size() * 4];
        int[] label = new int[dets.size()];
        float[] score = new float[dets.size()];
        for (int i = 0; i < dets.size(); i++) {
            Detection d = dets.get(i);
            bbox[4 * i] = d.ymin();
            bbox[4 * i + 1] = d.xmin();
            bbox[4 * i + 2] = d.ymax();
            bbox[4 * i + 3] = d.xmax();
            label[i] = d.classIndex();
            score[i] = d.score();
        }
        return new VocEval.Detections(bbox, label, score);
    }

}
