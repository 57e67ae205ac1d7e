package dev.frcnn.model.roi;

import dev.frcnn.ops.RoIAlign;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.full;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * torchvision 0.14's {@code MultiScaleRoIAlign(['0', '1', '2', '3'], output_size, sampling_ratio)}: each RoI is
 * pooled from one FPN level chosen by the {@link LevelMapper}, with {@link RoIAlign} ({@code aligned=False}).
 *
 * <p>The levels' scales are inferred as torchvision's {@code _setup_scales}: per level
 * {@code 2^round(log2(feature_height / max_resized_height))} (the log2 of a float32), where the maximum is over the
 * batch's resized (unpadded) image heights; the mapper's {@code kMin}/{@code kMax} are {@code -log2} of the first and
 * last scale. Only the given levels are used: the FPN's 'pool' level feeds the RPN alone.
 */
public final class MultiScaleRoIAlign {
    /** torchvision's output size of {@code fasterrcnn_resnet50_fpn}. */
    public static final int DEFAULT_OUTPUT_SIZE = 7;
    /** torchvision's sampling ratio of {@code fasterrcnn_resnet50_fpn}. */
    public static final int DEFAULT_SAMPLING_RATIO = 2;

    private final int numLevels;
    private final int outputSize;
    private final int samplingRatio;

    /**
     * @param numLevels how many of the first feature levels are pooled from (4: '0'..'3')
     * @param outputSize pooled height and width (7)
     * @param samplingRatio samples per bin and axis (2)
     * @throws IllegalArgumentException for non-positive arguments
     */
    public MultiScaleRoIAlign(int numLevels, int outputSize, int samplingRatio) {
        if (numLevels <= 0 || outputSize <= 0) {
            throw new IllegalArgumentException("MultiScaleRoIAlign needs levels and an output size > 0, got "
                    + numLevels + ", " + outputSize);
        }
        this.numLevels = numLevels;
        this.outputSize = outputSize;
        this.samplingRatio = samplingRatio;
    }

    /** torchvision's setting: levels '0'..'3', 7x7, sampling ratio 2. */
    public MultiScaleRoIAlign() {
        this(4, DEFAULT_OUTPUT_SIZE, DEFAULT_SAMPLING_RATIO);
    }

    /** Pooled height and width. */
    public int outputSize() { return outputSize; }

    /** Number of levels pooled from. */
    public int numLevels() { return numLevels; }

    /**
     * torchvision's {@code _infer_scale} for one level: {@code 2^round(log2(float32(featureHeight / imageHeight)))}.
     *
     * @param featureHeight the level's height in cells
     * @param imageHeight the batch's largest resized image height in pixels
     * @return the scale (a power of two)
     */
    public static double inferScale(long featureHeight, long imageHeight) {
        float approx = (float) ((double) featureHeight / (double) imageHeight);
        float log2 = (float) (Math.log(approx) / Math.log(2.0));
        return Math.pow(2.0, Math.rint(log2));
    }

    /**
     * The scales of the pooled levels (torchvision's {@code _setup_scales}).
     *
     * @param features the feature levels, at least {@link #numLevels()}
     * @param imageSizes the batch's resized image sizes, {height, width} in pixels
     * @return one scale per pooled level
     */
    public double[] scales(List<Tensor> features, List<long[]> imageSizes) {
        long maxH = imageSizes.stream().mapToLong(hw -> hw[0]).max().orElseThrow();
        double[] s = new double[numLevels];
        for (int l = 0; l < numLevels; l++) s[l] = inferScale(features.get(l).size(2), maxH);
        return s;
    }

    /**
     * The level mapper for the given scales: {@code kMin = (int) -log2(float32(scales[0]))}, {@code kMax} likewise
     * from the last scale.
     *
     * @param scales the pooled levels' scales
     * @return the mapper
     */
    public static LevelMapper levelMapper(double[] scales) {
        int kMin = (int) -(float) (Math.log((float) scales[0]) / Math.log(2.0));
        int kMax = (int) -(float) (Math.log((float) scales[scales.length - 1]) / Math.log(2.0));
        return new LevelMapper(kMin, kMax);
    }

    /**
     * torchvision's {@code _convert_to_roi_format}: the images' boxes concatenated with their batch index in front.
     *
     * @param boxes per image (R_i, 4) float32 (x1, y1, x2, y2)
     * @return (sum R_i, 5) float32 rows (batch index, x1, y1, x2, y2)
     */
    public static Tensor toRoIFormat(List<Tensor> boxes) {
        TensorVector rows = new TensorVector();
        for (int i = 0; i < boxes.size(); i++) {
            Tensor b = boxes.get(i);
            Tensor ids = full(new long[]{b.size(0), 1}, new org.bytedeco.pytorch.Scalar((double) i),
                    new org.bytedeco.pytorch.DimnameListOptional(), b.options());
            rows.push_back(cat(new TensorVector(ids, b), 1));
        }
        return cat(rows, 0);
    }

    /**
     * Pools every box from its level.
     *
     * @param features the feature levels (N, C, H_l, W_l) float32 (the first {@link #numLevels()} are used)
     * @param boxes per image (R_i, 4) float32 (x1, y1, x2, y2) in resized-image pixels
     * @param imageSizes the batch's resized image sizes, {height, width} in pixels
     * @return (sum R_i, C, outputSize, outputSize) float32; differentiable with respect to the features
     */
    public Tensor forward(List<Tensor> features, List<Tensor> boxes, List<long[]> imageSizes) {
        double[] scales = scales(features, imageSizes);
        LevelMapper mapper = levelMapper(scales);
        Tensor rois = toRoIFormat(boxes);
        Tensor levels = mapper.apply(rois.narrow(1, 1, 4));
        Tensor first = features.get(0);
        Tensor result = zeros(new long[]{rois.size(0), first.size(1), outputSize, outputSize}, first.options());
        for (int l = 0; l < numLevels; l++) {
            Tensor idx = levels.eq(new org.bytedeco.pytorch.Scalar((long) l)).nonzero().reshape(-1);
            if (idx.size(0) == 0) continue;
            RoIAlign op = new RoIAlign(outputSize, outputSize, scales[l], samplingRatio, false);
            Tensor pooled = op.forward(features.get(l), rois.index_select(0, idx));
            result = result.index_copy(0, idx, pooled.to(ScalarType.Float));
        }
        return result;
    }

    /**
     * The level index of each box, as {@link #forward} assigns them.
     *
     * @param features the feature levels
     * @param boxes per image (R_i, 4) float32 boxes
     * @param imageSizes the batch's resized image sizes, {height, width} in pixels
     * @return (sum R_i,) int64 in [0, numLevels)
     */
    public Tensor levels(List<Tensor> features, List<Tensor> boxes, List<long[]> imageSizes) {
        List<Tensor> all = new ArrayList<>(boxes);
        return levelMapper(scales(features, imageSizes)).apply(cat(new TensorVector(all.toArray(new Tensor[0])), 0));
    }
}
