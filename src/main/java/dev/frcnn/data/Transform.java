package dev.frcnn.data;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * The training transform; mirrors the reference's {@code data/dataset.Transform}: preprocess the image
 * ({@link Preprocess#preprocess}: scale to {@code min_size}/{@code max_size}, /255, resize, normalise), resize the
 * boxes to the new size, then flip image and boxes horizontally when asked (the reference flips with p = 0.5; the
 * caller draws the coin so that runs are reproducible).
 */
public final class Transform implements SampleTransform {
    private final Preprocessing preprocessing;

    /** A transformed training sample. The tensors belong to the caller (close them, or use a scope). */
    public record Sample(Tensor img, Tensor bbox, Tensor label, double scale) implements AutoCloseable {
        /** Frees the tensors now. */
        @Override
        public void close() {
            img.close();
            bbox.close();
            label.close();
        }
    }

    /**
     * @param preprocessing the reference's {@code min_size} (600), {@code max_size} (1000) and the caffe or
     *     torchvision normalisation
     */
    public Transform(Preprocessing preprocessing) {
        this.preprocessing = java.util.Objects.requireNonNull(preprocessing, "preprocessing");
    }

    /**
     * @param img (3, H, W) float32 RGB 0..255
     * @param bbox (R, 4) float32 (ymin, xmin, ymax, xmax) in pixels of {@code img}
     * @param label (R,) int64 0-based labels
     * @param xFlip flip horizontally
     * @return the normalised (3, H', W') image, (R, 4) boxes in its pixels, the labels, and
     *     {@code scale = H' / H} (the reference's convention)
     */
    @Override
    public Sample apply(Tensor img, Tensor bbox, Tensor label, boolean xFlip) {
        long h = img.size(1), w = img.size(2);
        Tensor outImg, outBbox, outLabel;
        try (PointerScope s = new PointerScope()) {
            Tensor x = preprocessing.apply(img);
            long oh = x.size(1), ow = x.size(2);
            Tensor b = Preprocess.resizeBbox(bbox, h, w, oh, ow);
            if (xFlip) {
                x = Preprocess.flipImage(x, false, true);
                b = Preprocess.flipBbox(b, oh, ow, false, true);
            }
            outImg = x.retainReference();
            outBbox = b.retainReference();
            outLabel = label.clone().retainReference();
        }
        return new Sample(outImg, outBbox, outLabel, (double) outImg.size(1) / h);
    }
}
