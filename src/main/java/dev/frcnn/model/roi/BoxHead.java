package dev.frcnn.model.roi;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * The RoI head's top on pooled RoI features, before the box predictor: torchvision's {@code box_head}
 * ({@code TwoMLPHead}), the reference's {@code classifier} (VGG16's fc6/fc7 from {@code decom_vgg16}), ResNet-C4's
 * layer4. A backbone supplies it, because its weights come with the backbone's pretrained file;
 * {@link VGG16RoIHead} registers {@link #module()} as {@code classifier}, so the state_dict keys are
 * {@code head.classifier.*}; torchvision's {@link RoIHeads} registers it as {@code box_head} ({@link TwoMLPHead},
 * {@link FastRCNNConvFCHead}).
 */
public interface BoxHead {
    /** The module whose parameters the head registers as {@code classifier}. */
    Module module();

    /**
     * @param pooled (R, C, {@link #roiSize()}, {@link #roiSize()}) float32 pooled features; R may be 0
     * @return (R, {@link #representationSize()}) float32 (bfloat16 under autocast)
     */
    Tensor forward(Tensor pooled);

    /** Width of {@link #forward}'s output (4096 for VGG16's fc7; torchvision's {@code representation_size}). */
    int representationSize();

    /** Output height and width of the RoI pooling that {@link #forward} expects (7 for VGG16). */
    int roiSize();

    /**
     * A box head from its parts.
     *
     * @param module the registered module
     * @param forward pooled features to the representation
     * @param representationSize output width, &gt; 0
     * @param roiSize pooled size, &gt; 0
     * @return the box head
     * @throws IllegalArgumentException for a null part or a non-positive size
     */
    static BoxHead of(Module module, UnaryOperator<Tensor> forward, int representationSize, int roiSize) {
        Objects.requireNonNull(module, "module");
        Objects.requireNonNull(forward, "forward");
        if (representationSize <= 0 || roiSize <= 0) {
            throw new IllegalArgumentException("representation size and RoI size must be > 0, got "
                    + representationSize + ", " + roiSize);
        }
        return new BoxHead() {
            @Override public Module module() { return module; }
            @Override public Tensor forward(Tensor pooled) { return forward.apply(pooled); }
            @Override public int representationSize() { return representationSize; }
            @Override public int roiSize() { return roiSize; }
        };
    }
}
