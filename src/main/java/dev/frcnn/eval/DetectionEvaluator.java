package dev.frcnn.eval;

import dev.frcnn.data.ImageTooSmallException;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.DetectionDataset;
import dev.frcnn.data.VocDataset;
import dev.frcnn.model.Detection;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.roi.Thresholds;
import org.bytedeco.javacpp.PointerScope;

import java.util.List;
import java.util.function.IntConsumer;

/**
 * Runs a detector over a VOC split and scores it; mirrors the reference's {@code train.eval(dataloader,
 * faster_rcnn, test_num)}: each image is detected with {@link FasterRCNN#detect} (preprocessing, no flip, then
 * {@code predict} at the given thresholds; the reference evaluates with the {@code evaluate} preset), and
 * {@link VocEval} accumulates detections against the gt boxes in original-image pixels, difficult objects flagged.
 */
public final class DetectionEvaluator {
    private DetectionEvaluator() {}

    /**
     * @param model the detector
     * @param data the test split, read with {@code useDifficult = true}
     * @param pre min/max size and normalisation matching the weights
     * @param thresholds score and NMS thresholds ({@link Thresholds#EVALUATE} in the reference)
     * @param testNum as the reference's {@code test_num}: it stops after image index {@code testNum}, so at most
     *     {@code testNum + 1} images are evaluated
     * @param progress called with the number of images done (may be null)
     * @return the evaluator holding every image's matches; call {@link VocEval#evaluate(boolean)}
     * @throws ImageTooSmallException naming the image file, for an image the preprocessing would resize below the
     *     backbone's smallest input (an image without proposals just has no detections)
     */
    public static VocEval run(FasterRCNN model, VocDataset data, Preprocessing pre, Thresholds thresholds,
                              int testNum, IntConsumer progress) {
        VocEval eval = new VocEval(0.5);
        int n = Math.min(data.size(), testNum + 1);
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
            }
            if (progress != null) progress.accept(i + 1);
        }
        return eval;
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
