package dev.frcnn.model.roi;

import dev.frcnn.tensor.Autocast;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.tensor;

/**
 * Mirrors the reference's {@code model/faster_rcnn_vgg16.VGG16RoIHead}: RoI pooling of the feature map
 * (the head owns the {@link RoIOperator}: RoIPool of the box head's RoI size at 1/stride, 7x7 at 1/16 for
 * VGG16, or one given by the caller such as RoIAlign), the backbone's {@link BoxHead} (fc6, fc7 for VGG16; layer4 +
 * mean for ResNet-C4), then two linear layers {@code cls_loc} (width to nClass*4, init normal std 0.001; width = the representation size) and
 * {@code score} (width to nClass, init normal std 0.01), biases 0. The same head serves every backbone.
 *
 * <p>Registered names: {@code classifier} (the box head's module), {@code cls_loc}, {@code score},
 * in this order, giving the reference's keys {@code head.classifier.*}, {@code head.cls_loc.*},
 * {@code head.score.*}.
 */
public final class VGG16RoIHead extends RoIHead {
    private final BoxHead boxHead;
    private final LinearImpl clsLoc;
    private final LinearImpl score;
    private final int nClass;
    private final RoIOperator roi;

    /**
     * The reference's head: RoIPool of the box head's RoI size at spatial scale {@code 1 / featureStride}
     * (7x7 at 1/16 for VGG16).
     *
     * @param nClass number of classes including the background (21 for VOC)
     * @param boxHead the backbone's box head (its module, output width and RoI size)
     * @param featureStride input pixels per feature cell of the map the RoIs are pooled from (16 for VGG16)
     * @throws IllegalArgumentException if {@code nClass < 2}
     */
    public VGG16RoIHead(int nClass, BoxHead boxHead, int featureStride) {
        this(nClass, boxHead, RoIOperators.roiPool(boxHead.roiSize(), 1.0 / featureStride));
    }

    /**
     * The same head with another RoI pooling (e.g. RoIAlign; see {@link dev.frcnn.assembly.Detectors}).
     *
     * @param nClass number of classes including the background (21 for VOC)
     * @param boxHead the backbone's box head (its module and output width)
     * @param roiOperator the pooling; its output size must be what the box head expects ({@link BoxHead#roiSize()})
     *     at spatial scale {@code 1 / featureStride}
     * @throws IllegalArgumentException if {@code nClass < 2} or an argument is null
     */
    public VGG16RoIHead(int nClass, BoxHead boxHead, RoIOperator roiOperator) {
        super("VGG16RoIHead");
        if (nClass < 2) throw new IllegalArgumentException("nClass must be >= 2 (background + 1), got " + nClass);
        if (boxHead == null || roiOperator == null) throw new IllegalArgumentException("boxHead and roiOperator are required");
        this.nClass = nClass;
        this.boxHead = boxHead;
        register_module("classifier", boxHead.module());
        int width = boxHead.representationSize();
        this.clsLoc = register_module("cls_loc", new LinearImpl(width, nClass * 4L));
        this.score = register_module("score", new LinearImpl(width, nClass));
        try (NoGradGuard g = new NoGradGuard()) {
            clsLoc.weight().normal_(0.0, 0.001, new GeneratorOptional());
            clsLoc.bias().zero_();
            score.weight().normal_(0.0, 0.01, new GeneratorOptional());
            score.bias().zero_();
        }
        this.roi = roiOperator;
    }

    /** The pooling operator. */
    public RoIOperator roiOperator() { return roi; }

    /** {@inheritDoc} */
    @Override public int nClass() { return nClass; }

    /** The {@code cls_loc} layer (4096 to nClass*4). */
    public LinearImpl clsLoc() { return clsLoc; }

    /** The {@code score} layer (4096 to nClass). */
    public LinearImpl score() { return score; }

    /**
     * {@inheritDoc}
     *
     * <p>As in the reference, the pooling input rows are {@code cat([roi_indices, rois], 1)[:, [0, 2, 1, 4, 3]]},
     * i.e. (batch_index, xmin, ymin, xmax, ymax) float32.
     *
     * <p>Under bfloat16 autocast ({@link Autocast}) the feature map enters the RoI op as contiguous float32 (the
     * native ops are float32-only; the cast costs well under 1% of a step, {@code docs/performance.md}), the
     * classifier's linear layers run in bfloat16, and both outputs are cast back to float32.
     */
    @Override
    public Output forward(Tensor x, Tensor rois, Tensor roiIndices) {
        Tensor indices = roiIndices.to(x.device(), ScalarType.Float).reshape(-1, 1);
        Tensor indicesAndRois = cat(new TensorVector(indices, rois.to(x.device(), ScalarType.Float)), 1);
        Tensor order = tensor(0L, 2L, 1L, 4L, 3L).to(x.device(), ScalarType.Long);
        Tensor xyIndicesAndRois = indicesAndRois.index_select(1, order).contiguous();
        Tensor pool = roi.apply(Autocast.toFloat(x), xyIndicesAndRois);
        Tensor fc7 = boxHead.forward(pool);
        return new Output(Autocast.toFloat(clsLoc.forward(fc7)), Autocast.toFloat(score.forward(fc7)));
    }
}
