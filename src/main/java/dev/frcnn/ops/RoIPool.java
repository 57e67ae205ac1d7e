package dev.frcnn.ops;

import org.bytedeco.pytorch.Tensor;

/**
 * RoI max pooling with {@code torchvision.ops.RoIPool} semantics, differentiable with respect to the input.
 * (API stub: implemented by the native ops.)
 */
public final class RoIPool {
    private final int pooledH;
    private final int pooledW;
    private final float spatialScale;

    /** @param pooledH output height (7 for VGG16) @param pooledW output width @param spatialScale feature/image ratio (1/16) */
    public RoIPool(int pooledH, int pooledW, double spatialScale) {
        this.pooledH = pooledH;
        this.pooledW = pooledW;
        this.spatialScale = (float) spatialScale;
    }

    public int pooledH() { return pooledH; }

    public int pooledW() { return pooledW; }

    public float spatialScale() { return spatialScale; }

    /**
     * @param input (N, C, H, W) float32 feature map
     * @param indicesAndRois (R, 5) float32 rows (batch_index, x1, y1, x2, y2) in input-image pixels
     * @return (R, C, pooledH, pooledW) float32 on the input's device; autograd flows to {@code input}
     */
    public Tensor forward(Tensor input, Tensor indicesAndRois) {
        throw new UnsupportedOperationException("RoIPool: native implementation pending");
    }
}
