package dev.frcnn.model.roi;

import dev.frcnn.model.utils.ChildModules;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.relu;

/**
 * torchvision 0.14's {@code FastRCNNConvFCHead}, the box head of {@code fasterrcnn_resnet50_fpn_v2}
 * ({@code FastRCNNConvFCHead((256, 7, 7), [256, 256, 256, 256], [1024], norm_layer=nn.BatchNorm2d)}): on the pooled
 * RoI features, one {@code Conv2dNormActivation} per conv layer (3x3 convolution, padding 1, without bias; the norm
 * layer; ReLU), then flatten, then per fc layer a Linear with ReLU.
 *
 * <p>Module names are torchvision's, which is an {@code nn.Sequential}: the conv blocks are children {@code 0} ..
 * {@code c-1} (each with the convolution as {@code 0} and the norm as {@code 1}: {@code box_head.0.0.weight},
 * {@code box_head.0.1.running_mean}, ...); {@code nn.Flatten} is index {@code c} and each Linear is followed by its
 * ReLU, so the Linear layers are children {@code c+1}, {@code c+3}, ... ({@code box_head.5.weight} for four convs
 * and one fc). The parameterless Flatten and ReLU modules are not registered (they add no keys). Initialisation as
 * torchvision: convolutions {@code kaiming_normal_(mode="fan_out", nonlinearity="relu")} (normal, std
 * sqrt(2 / (out * k * k))), the norm layer's own, the Linear layers LibTorch's default (PyTorch's rule).
 */
public final class FastRCNNConvFCHead extends Module implements BoxHead {
    /** torchvision's conv layers of {@code fasterrcnn_resnet50_fpn_v2}'s box head. */
    public static final int[] V2_CONV_LAYERS = {256, 256, 256, 256};
    /** torchvision's fc layers of {@code fasterrcnn_resnet50_fpn_v2}'s box head. */
    public static final int[] V2_FC_LAYERS = {1024};

    private final List<Conv2dImpl> convs = new ArrayList<>();
    private final List<Module> norms = new ArrayList<>();
    private final List<LinearImpl> fcs = new ArrayList<>();
    private final ChildModules children = new ChildModules();
    private final NormLayer normLayer;
    private final int inChannels;
    private final int roiSize;
    private final int representationSize;

    /**
     * @param inChannels channels of the pooled features (256)
     * @param roiSize pooled height and width (7)
     * @param convLayers output channels of each conv block, at least one ({@link #V2_CONV_LAYERS})
     * @param fcLayers output width of each Linear layer, at least one ({@link #V2_FC_LAYERS})
     * @param normLayer the norm of each conv block (torchvision's {@code nn.BatchNorm2d} in v2)
     * @throws IllegalArgumentException for no conv or fc layer or a non-positive size
     */
    public FastRCNNConvFCHead(int inChannels, int roiSize, int[] convLayers, int[] fcLayers, NormLayer normLayer) {
        super("FastRCNNConvFCHead");
        Objects.requireNonNull(normLayer, "normLayer");
        if (inChannels <= 0 || roiSize <= 0 || convLayers.length == 0 || fcLayers.length == 0
                || Arrays.stream(convLayers).anyMatch(c -> c <= 0) || Arrays.stream(fcLayers).anyMatch(c -> c <= 0)) {
            throw new IllegalArgumentException("FastRCNNConvFCHead needs positive sizes and at least one conv and one fc "
                    + "layer, got in " + inChannels + ", roi size " + roiSize + ", convs " + Arrays.toString(convLayers)
                    + ", fcs " + Arrays.toString(fcLayers));
        }
        this.normLayer = normLayer;
        this.inChannels = inChannels;
        this.roiSize = roiSize;
        int prev = inChannels;
        for (int i = 0; i < convLayers.length; i++) {
            Module block = children.container("Conv2dNormActivation");
            convs.add(block.register_module("0", conv3x3(prev, convLayers[i])));
            norms.add(block.register_module("1", normLayer.create(convLayers[i])));
            register_module(Integer.toString(i), block);
            prev = convLayers[i];
        }
        prev = prev * roiSize * roiSize;
        int index = convLayers.length + 1; // nn.Flatten takes index convLayers.length
        for (int width : fcLayers) {
            fcs.add(register_module(Integer.toString(index), new LinearImpl(prev, width)));
            index += 2; // each Linear is followed by its ReLU
            prev = width;
        }
        this.representationSize = prev;
    }

    private static Conv2dImpl conv3x3(int in, int out) {
        Conv2dOptions o = new Conv2dOptions(in, out, new LongPointer(3, 3));
        o.padding().put(new LongPointer(1, 1));
        o.bias().put(false);
        Conv2dImpl c = new Conv2dImpl(o);
        try (NoGradGuard g = new NoGradGuard()) {
            c.weight().normal_(0.0, Math.sqrt(2.0 / ((double) out * 3 * 3)), new GeneratorOptional());
        }
        return c;
    }

    /** This head, as the module {@link RoIHeads} registers as {@code box_head}. */
    @Override
    public Module module() { return this; }

    /** Channels of the pooled features this head expects. */
    public int inChannels() { return inChannels; }

    /** The pooled size this head expects (its first Linear takes {@code channels * roiSize * roiSize}). */
    @Override
    public int roiSize() { return roiSize; }

    /** Width of the last Linear layer (1024). */
    @Override
    public int representationSize() { return representationSize; }

    /**
     * torchvision's {@code FastRCNNConvFCHead.forward} (its {@code nn.Sequential}).
     *
     * @param pooled (R, inChannels, roiSize, roiSize) float32 pooled features; R may be 0
     * @return (R, representationSize) float32
     */
    @Override
    public Tensor forward(Tensor pooled) {
        Tensor x = pooled;
        for (int i = 0; i < convs.size(); i++) x = relu(normLayer.forward(norms.get(i), convs.get(i).forward(x)));
        x = x.flatten(1, -1);
        for (LinearImpl fc : fcs) x = relu(fc.forward(x));
        return x;
    }
}
