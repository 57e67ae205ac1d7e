package dev.frcnn.model.roi;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * torchvision's {@code norm_layer} argument ({@code Callable[..., nn.Module]}, e.g. {@code nn.BatchNorm2d}): builds
 * the normalisation of one block for C channels and applies it. The blocks that take one are torchvision's
 * {@code Conv2dNormActivation}s in {@code fasterrcnn_resnet50_fpn_v2}: the FPN's
 * ({@code dev.frcnn.model.backbone.FeaturePyramidNetwork}) and the box head's ({@link FastRCNNConvFCHead}); the
 * BatchNorm2d of that model is {@code dev.frcnn.model.backbone.FrozenBatchNorm2d#asNormLayer}.
 */
public interface NormLayer {
    /**
     * @param channels the channels C normalised (&gt; 0)
     * @return a new normalisation module; its parameters and buffers make the state_dict keys under the block's
     *     child {@code 1} (torchvision's {@code Conv2dNormActivation} layout)
     */
    Module create(int channels);

    /**
     * @param norm a module made by {@link #create}
     * @param x (N, C, H, W) float32
     * @return (N, C, H, W) float32, normalised
     */
    Tensor forward(Module norm, Tensor x);
}
