package dev.frcnn.model.roi;

import org.bytedeco.pytorch.Tensor;

/**
 * A RoI feature pooling operation (RoIPool, later RoIAlign) as used by a {@link RoIHead}.
 *
 * <p>Implementations must be differentiable with respect to {@code features} and device-agnostic
 * (CPU and CUDA tensors, result on the features' device).
 */
@FunctionalInterface
public interface RoIOperator {
    /**
     * Pools one fixed-size feature patch per RoI.
     *
     * @param features (N, C, H, W) float32 feature map
     * @param indicesAndRoisXY (R, 5) float32 rows {@code (batch_index, x1, y1, x2, y2)} in input-image pixels
     *     (note: x first, as torchvision's ops expect)
     * @return (R, C, pooledH, pooledW) float32 on the features' device
     */
    Tensor apply(Tensor features, Tensor indicesAndRoisXY);
}
