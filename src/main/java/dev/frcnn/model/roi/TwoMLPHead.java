package dev.frcnn.model.roi;

import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

import static org.bytedeco.pytorch.global.torch.relu;

/**
 * torchvision 0.14's {@code TwoMLPHead}: pooled features flattened, then {@code fc6} and {@code fc7} (Linear layers
 * with ReLU), as {@code fasterrcnn_resnet50_fpn}'s box head (1024 wide). Module names {@code fc6}, {@code fc7} are
 * torchvision's; initialisation is LibTorch's Linear default (the same kaiming-uniform rule as PyTorch's).
 */
public final class TwoMLPHead extends Module {
    private final LinearImpl fc6;
    private final LinearImpl fc7;
    private final int representationSize;

    /**
     * @param inChannels flattened input size (256 * 7 * 7)
     * @param representationSize output width (1024)
     */
    public TwoMLPHead(int inChannels, int representationSize) {
        super("TwoMLPHead");
        this.representationSize = representationSize;
        fc6 = register_module("fc6", new LinearImpl(inChannels, representationSize));
        fc7 = register_module("fc7", new LinearImpl(representationSize, representationSize));
    }

    /** Width of {@code fc7}'s output (1024). */
    public int representationSize() { return representationSize; }

    /** @param x (R, C, S, S) float32 pooled features @return (R, representationSize) float32 */
    public Tensor forward(Tensor x) {
        return relu(fc7.forward(relu(fc6.forward(x.flatten(1, -1)))));
    }
}
