package dev.frcnn.data;

/**
 * The one conversion of the project's boxes to COCO's: {@code (ymin, xmin, ymax, xmax)} float32 pixels (the
 * {@link DetectionDataset} convention, the model's output) to COCO's {@code [x, y, w, h]} =
 * {@code [xmin, ymin, xmax - xmin, ymax - ymin]}, computed in double precision from the float values (exact: the
 * difference of two floats of similar magnitude fits a double). {@link CocoDataset} reads COCO's box back as
 * {@code (y, x, y + h, x + w)}, so a box makes the round trip unchanged. {@link DatasetConverter} writes a VOC
 * dataset's boxes this way, and the evaluation writes detections and builds the COCO metric's ground truth this way,
 * so a converted ground-truth file and a results file are in the same frame.
 */
public final class CocoBox {
    private CocoBox() {}

    /**
     * @return {@code [xmin, ymin, xmax - xmin, ymax - ymin]}, the differences in double precision
     */
    public static double[] xywh(float ymin, float xmin, float ymax, float xmax) {
        return new double[] {xmin, ymin, (double) xmax - xmin, (double) ymax - ymin};
    }

    /**
     * Box {@code r} of a flattened (R, 4) {@code (ymin, xmin, ymax, xmax)} array.
     *
     * @return {@link #xywh(float, float, float, float)} of it
     * @throws IndexOutOfBoundsException if there is no box {@code r}
     */
    public static double[] xywh(float[] bbox, int r) {
        return xywh(bbox[4 * r], bbox[4 * r + 1], bbox[4 * r + 2], bbox[4 * r + 3]);
    }
}
