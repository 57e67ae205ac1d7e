package dev.frcnn.model.backbone;

import dev.frcnn.model.utils.ChildModules;
import dev.frcnn.model.roi.NormLayer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.max_pool2d;
import static org.bytedeco.pytorch.global.torch.upsample_nearest2d;

/**
 * torchvision 0.14's {@code torchvision.ops.FeaturePyramidNetwork} with the {@code LastLevelMaxPool} extra block, as
 * {@code fasterrcnn_resnet50_fpn} builds it (Lin et al., "Feature Pyramid Networks for Object Detection").
 *
 * <p>For inputs C2..C5 (strides 4..32), each level gets a 1x1 lateral convolution {@code inner_blocks.i.0}
 * (in_i to {@code outChannels}, with bias); from the top, the running map is the lateral plus the running map of
 * the level above upsampled (nearest, to the lateral's size); each running map goes through a 3x3 convolution
 * {@code layer_blocks.i.0} (padding 1, with bias). The extra level {@code 'pool'} is
 * {@code max_pool2d(P5, kernel 1, stride 2)}. Outputs in order {@code '0', '1', '2', '3', 'pool'} ({@link #LEVEL_NAMES}).
 *
 * <p>Module names are torchvision's ({@code inner_blocks.N.0.weight}: torchvision wraps each convolution in a
 * {@code Conv2dNormActivation} without norm and activation, a Sequential whose child {@code 0} is the conv).
 * Initialisation as torchvision: {@code kaiming_uniform_(a=1)} (uniform in +-sqrt(3 / fan_in)) and zero bias.
 *
 * <p>With a {@link NormLayer} (torchvision's {@code norm_layer}, {@code nn.BatchNorm2d} in
 * {@code fasterrcnn_resnet50_fpn_v2}), every inner and layer block is a convolution without bias followed by the norm,
 * registered as the block's child {@code 1} ({@code inner_blocks.N.1.running_mean}, ...), as torchvision's
 * {@code Conv2dNormActivation(..., norm_layer=norm_layer, activation_layer=None)}.
 */
public final class FeaturePyramidNetwork extends Module {
    /** Names of the output levels, in order (torchvision's feature dict keys). */
    public static final List<String> LEVEL_NAMES = List.of("0", "1", "2", "3", "pool");

    private final int outChannels;
    private final List<Conv2dImpl> inner = new ArrayList<>();
    private final List<Conv2dImpl> layer = new ArrayList<>();
    private final List<Module> innerNorms = new ArrayList<>();
    private final List<Module> layerNorms = new ArrayList<>();
    private final NormLayer norm;
    private final ChildModules children = new ChildModules();

    /**
     * @param inChannels channels of each input level, lowest level first (ResNet-50: 256, 512, 1024, 2048)
     * @param outChannels channels of every output level (256)
     * @throws IllegalArgumentException for no levels or non-positive channels
     */
    public FeaturePyramidNetwork(int[] inChannels, int outChannels) {
        this(inChannels, outChannels, null);
    }

    /**
     * With a norm in every block ({@code fasterrcnn_resnet50_fpn_v2}'s FPN).
     *
     * @param inChannels channels of each input level, lowest level first (ResNet-50: 256, 512, 1024, 2048)
     * @param outChannels channels of every output level (256)
     * @param norm torchvision's {@code norm_layer}; null: none, the convolutions have a bias
     * @throws IllegalArgumentException for no levels or non-positive channels
     */
    public FeaturePyramidNetwork(int[] inChannels, int outChannels, NormLayer norm) {
        super("FeaturePyramidNetwork");
        if (inChannels.length == 0 || outChannels <= 0 || Arrays.stream(inChannels).anyMatch(c -> c <= 0)) {
            throw new IllegalArgumentException("FPN needs positive channels, got in " + Arrays.toString(inChannels)
                    + ", out " + outChannels);
        }
        this.outChannels = outChannels;
        this.norm = norm;
        boolean bias = norm == null;
        Module innerBlocks = children.container("ModuleList");
        Module layerBlocks = children.container("ModuleList");
        for (int i = 0; i < inChannels.length; i++) {
            Module a = children.container("Conv2dNormActivation");
            inner.add(a.register_module("0", conv(inChannels[i], outChannels, 1, 0, bias)));
            if (norm != null) innerNorms.add(a.register_module("1", norm.create(outChannels)));
            innerBlocks.register_module(Integer.toString(i), a);
            Module b = children.container("Conv2dNormActivation");
            layer.add(b.register_module("0", conv(outChannels, outChannels, 3, 1, bias)));
            if (norm != null) layerNorms.add(b.register_module("1", norm.create(outChannels)));
            layerBlocks.register_module(Integer.toString(i), b);
        }
        register_module("inner_blocks", innerBlocks);
        register_module("layer_blocks", layerBlocks);
    }


    private static Conv2dImpl conv(int in, int out, int kernel, int padding, boolean bias) {
        Conv2dOptions o = new Conv2dOptions(in, out, new LongPointer(kernel, kernel));
        o.padding().put(new LongPointer(padding, padding));
        o.bias().put(bias);
        Conv2dImpl c = new Conv2dImpl(o);
        try (NoGradGuard g = new NoGradGuard()) {
            double bound = Math.sqrt(3.0 / ((double) in * kernel * kernel));
            c.weight().uniform_(-bound, bound, new GeneratorOptional());
            if (bias) c.bias().zero_();
        }
        return c;
    }

    /** Inner block {@code i}: the 1x1 lateral convolution, then the norm if there is one. */
    private Tensor innerBlock(int i, Tensor x) {
        Tensor y = inner.get(i).forward(x);
        return norm == null ? y : norm.forward(innerNorms.get(i), y);
    }

    /** Layer block {@code i}: the 3x3 output convolution, then the norm if there is one. */
    private Tensor layerBlock(int i, Tensor x) {
        Tensor y = layer.get(i).forward(x);
        return norm == null ? y : norm.forward(layerNorms.get(i), y);
    }

    /** Channels of every output level. */
    public int outChannels() { return outChannels; }

    /**
     * torchvision's {@code FeaturePyramidNetwork.forward} followed by {@code LastLevelMaxPool}.
     *
     * @param x the input levels (N, in_i, H_i, W_i) float32, lowest level (largest map) first
     * @return one (N, outChannels, H_i, W_i) float32 map per input level, then the 'pool' level
     *     (N, outChannels, ceil(H_last / 2), ceil(W_last / 2))
     * @throws IllegalArgumentException if the number of inputs differs from the number of levels
     */
    public List<Tensor> forward(List<Tensor> x) {
        int n = inner.size();
        if (x.size() != n) throw new IllegalArgumentException("FPN expects " + n + " levels, got " + x.size());
        Tensor[] results = new Tensor[n];
        Tensor lastInner = innerBlock(n - 1, x.get(n - 1));
        results[n - 1] = layerBlock(n - 1, lastInner);
        for (int i = n - 2; i >= 0; i--) {
            Tensor lateral = innerBlock(i, x.get(i));
            Tensor topDown = upsample_nearest2d(lastInner, new long[]{lateral.size(2), lateral.size(3)});
            lastInner = lateral.add(topDown);
            results[i] = layerBlock(i, lastInner);
        }
        List<Tensor> out = new ArrayList<>(Arrays.asList(results));
        out.add(max_pool2d(results[n - 1], new long[]{1, 1}, new long[]{2, 2}, new long[]{0, 0}, new long[]{1, 1}, false));
        return out;
    }
}
