package dev.frcnn.model.rpn;

import dev.frcnn.model.utils.ChildModules;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.relu;

/**
 * torchvision 0.14's {@code RPNHead}: one 3x3 convolution with ReLU shared over all feature levels, then two 1x1
 * convolutions, {@code cls_logits} (one objectness logit per anchor) and {@code bbox_pred} (four deltas
 * {@code (dx, dy, dw, dh)} per anchor).
 *
 * <p>Module names are torchvision's: {@code conv.0.0.weight} (a {@code Conv2dNormActivation} without norm inside a
 * Sequential), {@code cls_logits.weight}, {@code bbox_pred.weight}, each with a bias. Initialisation as torchvision:
 * normal(0, 0.01) weights, zero biases.
 *
 * <p>With {@code convDepth} d (torchvision's {@code conv_depth}, 2 in {@code fasterrcnn_resnet50_fpn_v2}), the shared
 * part is d 3x3 convolutions, each with its ReLU ({@code conv.0.0.*}, ..., {@code conv.<d-1>.0.*}).
 */
public final class RPNHead extends Module {
    private final List<Conv2dImpl> convs = new ArrayList<>();
    private final Conv2dImpl clsLogits;
    private final Conv2dImpl bboxPred;
    private final int numAnchors;
    private final ChildModules children = new ChildModules();

    /**
     * @param inChannels channels of every feature level (256 for the FPN)
     * @param numAnchors anchors per location (3 for one size and three ratios per level)
     * @throws IllegalArgumentException for non-positive arguments
     */
    public RPNHead(int inChannels, int numAnchors) {
        this(inChannels, numAnchors, 1);
    }

    /**
     * @param inChannels channels of every feature level (256 for the FPN)
     * @param numAnchors anchors per location (3 for one size and three ratios per level)
     * @param convDepth the shared 3x3 convolutions (torchvision's {@code conv_depth}: 1, or 2 in
     *     {@code fasterrcnn_resnet50_fpn_v2})
     * @throws IllegalArgumentException for non-positive arguments
     */
    public RPNHead(int inChannels, int numAnchors, int convDepth) {
        super("RPNHead");
        if (inChannels <= 0 || numAnchors <= 0 || convDepth <= 0) {
            throw new IllegalArgumentException("RPNHead needs positive channels, anchors and conv depth, got "
                    + inChannels + ", " + numAnchors + ", " + convDepth);
        }
        this.numAnchors = numAnchors;
        Module seq = children.container("Sequential");
        for (int i = 0; i < convDepth; i++) {
            Module block = children.container("Conv2dNormActivation");
            convs.add(block.register_module("0", conv(inChannels, inChannels, 3, 1)));
            seq.register_module(Integer.toString(i), block);
        }
        register_module("conv", seq);
        clsLogits = register_module("cls_logits", conv(inChannels, numAnchors, 1, 0));
        bboxPred = register_module("bbox_pred", conv(inChannels, 4 * numAnchors, 1, 0));
    }


    private static Conv2dImpl conv(int in, int out, int kernel, int padding) {
        Conv2dOptions o = new Conv2dOptions(in, out, new LongPointer(kernel, kernel));
        o.padding().put(new LongPointer(padding, padding));
        o.bias().put(true);
        Conv2dImpl c = new Conv2dImpl(o);
        try (NoGradGuard g = new NoGradGuard()) {
            c.weight().normal_(0.0, 0.01, new GeneratorOptional());
            c.bias().zero_();
        }
        return c;
    }

    /** The shared 3x3 convolutions (torchvision's {@code conv_depth}). */
    public int convDepth() { return convs.size(); }

    /** Anchors per location. */
    public int numAnchors() { return numAnchors; }

    /**
     * The head's outputs for each level.
     *
     * @param objectness per level (N, A, H_l, W_l) float32 logits
     * @param deltas per level (N, 4A, H_l, W_l) float32, {@code (dx, dy, dw, dh)} per anchor
     */
    public record Output(List<Tensor> objectness, List<Tensor> deltas) {}

    /**
     * @param features the feature levels (N, C, H_l, W_l) float32
     * @return objectness logits and deltas per level
     */
    public Output forward(List<Tensor> features) {
        List<Tensor> logits = new ArrayList<>(features.size());
        List<Tensor> deltas = new ArrayList<>(features.size());
        for (Tensor f : features) {
            Tensor t = f;
            for (Conv2dImpl conv : convs) t = relu(conv.forward(t));
            logits.add(clsLogits.forward(t));
            deltas.add(bboxPred.forward(t));
        }
        return new Output(logits, deltas);
    }
}
