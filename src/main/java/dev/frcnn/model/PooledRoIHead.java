package dev.frcnn.model;

import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.tensor;

/**
 * The reference's {@code VGG16RoIHead} structure for any {@link Backbone} and any {@link RoIOperator}: RoI pooling
 * of the feature map with the given operator, the backbone's classifier ({@link Backbone#classify}: fc6/fc7 for
 * VGG16, layer4 + mean for ResNet-C4), then {@code cls_loc} (width to nClass*4, init normal std 0.001) and
 * {@code score} (width to nClass, init normal std 0.01), biases 0.
 *
 * <p>Registered names, in order: {@code classifier} (the backbone's classifier module), {@code cls_loc},
 * {@code score}, so the keys are {@code head.classifier.*}, {@code head.cls_loc.*}, {@code head.score.*} as with
 * {@link VGG16RoIHead}. Unlike {@link VGG16RoIHead}, the pooling is chosen by the caller (e.g. RoIAlign for a
 * VGG16 or a ResNet backbone; see {@link Detectors}).
 */
public final class PooledRoIHead extends RoIHead {
    private final Backbone backbone;
    private final RoIOperator roi;
    private final LinearImpl clsLoc;
    private final LinearImpl score;
    private final int nClass;

    /**
     * @param nClass number of classes including the background (21 for VOC)
     * @param backbone supplies the classifier module and its output width
     * @param roiOperator the pooling; its output size must be what the backbone's classifier expects
     *     ({@link Backbone#roiSize()}) at spatial scale {@code 1 / backbone.featureStride()}
     * @throws IllegalArgumentException if {@code nClass < 2} or an argument is null
     */
    public PooledRoIHead(int nClass, Backbone backbone, RoIOperator roiOperator) {
        super("PooledRoIHead");
        if (nClass < 2) throw new IllegalArgumentException("nClass must be >= 2 (background + 1), got " + nClass);
        if (backbone == null || roiOperator == null) throw new IllegalArgumentException("backbone and roiOperator are required");
        this.nClass = nClass;
        this.backbone = backbone;
        this.roi = roiOperator;
        register_module("classifier", backbone.classifier());
        int width = backbone.classifierOutputWidth();
        this.clsLoc = register_module("cls_loc", new LinearImpl(width, nClass * 4L));
        this.score = register_module("score", new LinearImpl(width, nClass));
        try (NoGradGuard g = new NoGradGuard()) {
            clsLoc.weight().normal_(0.0, 0.001, new GeneratorOptional());
            clsLoc.bias().zero_();
            score.weight().normal_(0.0, 0.01, new GeneratorOptional());
            score.bias().zero_();
        }
    }

    /** {@inheritDoc} */
    @Override public int nClass() { return nClass; }

    /** The {@code cls_loc} layer (classifier width to nClass*4). */
    public LinearImpl clsLoc() { return clsLoc; }

    /** The {@code score} layer (classifier width to nClass). */
    public LinearImpl score() { return score; }

    /** The pooling operator. */
    public RoIOperator roiOperator() { return roi; }

    /**
     * {@inheritDoc}
     *
     * <p>As in the reference, the pooling input rows are {@code cat([roi_indices, rois], 1)[:, [0, 2, 1, 4, 3]]},
     * i.e. (batch_index, xmin, ymin, xmax, ymax) float32.
     */
    @Override
    public Output forward(Tensor x, Tensor rois, Tensor roiIndices) {
        Tensor indices = roiIndices.to(x.device(), ScalarType.Float).reshape(-1, 1);
        Tensor indicesAndRois = cat(new TensorVector(indices, rois.to(x.device(), ScalarType.Float)), 1);
        Tensor order = tensor(0L, 2L, 1L, 4L, 3L).to(x.device(), ScalarType.Long);
        Tensor xy = indicesAndRois.index_select(1, order).contiguous();
        Tensor features = backbone.classify(roi.apply(x, xy));
        return new Output(clsLoc.forward(features), score.forward(features));
    }
}
