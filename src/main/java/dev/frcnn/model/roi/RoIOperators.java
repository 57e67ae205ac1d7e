package dev.frcnn.model.roi;

import dev.frcnn.ops.RoIAlign;
import dev.frcnn.ops.RoIPool;

/** Factories for the {@link RoIOperator}s a {@link dev.frcnn.model.backbone.Backbone} or {@link VGG16RoIHead} can use. */
public final class RoIOperators {
    private RoIOperators() {}

    /**
     * torchvision {@code RoIPool((size, size), spatialScale)} ({@link RoIPool}).
     *
     * @param size output height and width ({@code > 0})
     * @param spatialScale feature/image ratio (1/16 for stride 16)
     * @return the operator
     * @throws IllegalArgumentException for a non-positive size or a non-finite scale
     */
    public static RoIOperator roiPool(int size, double spatialScale) {
        RoIPool op = new RoIPool(size, size, spatialScale);
        return op::forward;
    }

    /**
     * torchvision {@code roi_align(x, rois, (size, size), spatialScale, samplingRatio, aligned)} ({@link RoIAlign}).
     *
     * @param size output height and width ({@code > 0})
     * @param spatialScale feature/image ratio (1/16 for stride 16)
     * @param samplingRatio samples per bin and axis; {@code <= 0} = adaptive
     * @param aligned half-pixel offset (torchvision's {@code aligned})
     * @return the operator
     * @throws IllegalArgumentException for a non-positive size or a non-finite scale
     */
    public static RoIOperator roiAlign(int size, double spatialScale, int samplingRatio, boolean aligned) {
        RoIAlign op = new RoIAlign(size, size, spatialScale, samplingRatio, aligned);
        return op::forward;
    }
}
