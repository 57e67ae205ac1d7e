package dev.frcnn.model.backbone;

import dev.frcnn.model.roi.BoxHead;
import dev.frcnn.tensor.ConvolutionBackward;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.GroupNormImpl;
import org.bytedeco.pytorch.GroupNormOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntFunction;

import static org.bytedeco.pytorch.global.torch.max_pool2d;
import static org.bytedeco.pytorch.global.torch.relu;

/**
 * ResNet-50/101 split in the "C4" layout of the Faster R-CNN paper and detectron2's {@code R50-C4}: the
 * extractor is torchvision's {@code resnet50()/resnet101()} trunk {@code conv1 -> bn1 -> relu -> maxpool(3, 2, 1)
 * -> layer1 -> layer2 -> layer3} (output stride 16, 1024 channels) and the RoI head's classifier is
 * {@code layer4} (its first block has stride 2, so 14x14 pooled RoIs become 7x7, 2048 channels) followed by a
 * mean over H and W, giving 2048 features per RoI. The ImageNet {@code fc} is not part of the model.
 *
 * <p>Blocks are torchvision's {@code Bottleneck} in the v1.5 layout (the stride sits in the 3x3 {@code conv2} and
 * in {@code downsample.0}); convolutions have no bias. The normalisation layers ({@code bn1}, {@code bn2},
 * {@code bn3}, {@code downsample.1}) are a {@link Norm}: by default {@link Norm#FROZEN_BN}, a
 * {@link FrozenBatchNorm2d} (eps 1e-5) that always uses its running statistics, also after {@code train(true)},
 * with {@code requires_grad=false} affine parameters; for training from scratch {@link Norm#GROUP_NORM}
 * (config {@code norm}). As in detectron2 ({@code FREEZE_AT}, config {@code freeze_at}, default 2), {@code conv1}
 * and all of {@code layer1} are frozen as well by default; layer2..layer4 are trained. The backbone owns this
 * freezing (its catalogue entry freezes no prefix of its own).
 *
 * <p>Module names are torchvision's. Registered by {@link dev.frcnn.model.FasterRCNN} (as {@code extractor}) and the RoI head
 * (as {@code head.classifier}), a torchvision key {@code layer4.*} becomes {@code head.classifier.layer4.*} and
 * every other key except {@code fc.*} becomes {@code extractor.*} ({@code dev.frcnn.io.ResNetKeys}).
 *
 * <p>Initialisation (before any weights are loaded) follows torchvision's ResNet: convolutions Kaiming normal
 * (fan_out, ReLU), BatchNorm weight 1 and bias 0, running mean 0 and variance 1.
 */
public final class ResNetC4Backbone implements Backbone {
    /** Input pixels per feature cell of layer3. */
    public static final int FEATURE_STRIDE = 16;
    /** Channels of layer3's output (the RPN's input). */
    public static final int FEATURE_CHANNELS = 1024;
    /** Channels of layer4's output, the width of the box head's output. */
    public static final int OUTPUT_CHANNELS = 2048;
    /** Default output size of the RoI pooling in front of layer4 (detectron2's R50-C4 {@code POOLER_RESOLUTION}). */
    public static final int DEFAULT_ROI_SIZE = 14;
    /** Smallest input side: every strided convolution and the stem's pool are padded, so 1 pixel gives a 1-pixel map. */
    public static final int MIN_INPUT_SIDE = 1;
    /** Bottleneck expansion (output channels = 4 x width). */
    public static final int EXPANSION = 4;

    /** The supported depths with torchvision's number of blocks per stage (layer1..layer4). */
    public enum Depth {
        /** ResNet-50: 3, 4, 6, 3 blocks. */
        RESNET50("resnet50", 3, 4, 6, 3),
        /** ResNet-101: 3, 4, 23, 3 blocks. */
        RESNET101("resnet101", 3, 4, 23, 3);

        private final String configName;
        private final int[] blocks;

        Depth(String configName, int... blocks) {
            this.configName = configName;
            this.blocks = blocks;
        }

        /** The name used in configs ({@code resnet50}, {@code resnet101}). */
        public String configName() { return configName; }

        /** Number of Bottleneck blocks of layer1..layer4 (a copy, 4 entries). */
        public int[] blocks() { return blocks.clone(); }

        /**
         * @param name {@code resnet50} or {@code resnet101} (case-insensitive)
         * @return the depth
         * @throws IllegalArgumentException for any other name
         */
        public static Depth fromName(String name) {
            String n = name == null ? "" : name.toLowerCase(Locale.ROOT);
            for (Depth d : values()) if (d.configName.equals(n)) return d;
            throw new IllegalArgumentException("unknown ResNet depth '" + name + "' (resnet50, resnet101)");
        }
    }

    /**
     * The normalisation layer after every convolution (config {@code norm}; detectron2's {@code RESNETS.NORM}).
     * Module names stay torchvision's ({@code bn1}, ..., {@code downsample.1}) for both.
     */
    public enum Norm {
        /** {@link FrozenBatchNorm2d}: fixed statistics and affine; for ImageNet weights ({@code frozen_bn}). */
        FROZEN_BN("frozen_bn"),
        /**
         * {@code GroupNorm(32, C)} (eps 1e-5, weight 1, bias 0, trained): normalises every image on its own, the
         * same in training and evaluation, as in Wu and He's "Group Normalization" and He et al.'s "Rethinking
         * ImageNet Pre-training" for detectors trained from scratch ({@code group_norm}). Parameters {@code weight}
         * and {@code bias} only, so torchvision's BatchNorm weights do not load into it.
         */
        GROUP_NORM("group_norm");

        /** Groups of {@link #GROUP_NORM} (detectron2's and the paper's 32). */
        public static final int GROUPS = 32;
        /** The config values, in declaration order. */
        public static final List<String> NAMES = java.util.Arrays.stream(values()).map(Norm::configName).toList();

        private final String configName;

        Norm(String configName) {
            this.configName = configName;
        }

        /** The config value. */
        public String configName() { return configName; }

        /**
         * @param name {@code frozen_bn} or {@code group_norm}
         * @return the norm
         * @throws IllegalArgumentException for any other name
         */
        public static Norm fromName(String name) {
            for (Norm n : values()) if (n.configName.equals(name)) return n;
            throw new IllegalArgumentException("norm must be one of " + String.join(", ", NAMES) + ", got " + name);
        }

        Module create(int channels) {
            return switch (this) {
                case FROZEN_BN -> new FrozenBatchNorm2d(channels);
                case GROUP_NORM -> new GroupNormImpl(new GroupNormOptions(GROUPS, channels));
            };
        }

        static Tensor apply(Module norm, Tensor x) {
            if (norm instanceof FrozenBatchNorm2d f) return f.forward(x);
            return ((GroupNormImpl) norm).forward(x);
        }

        /** The scale parameter of a layer made by {@link #create}. */
        static Tensor weight(Module norm) {
            if (norm instanceof FrozenBatchNorm2d f) return f.weight();
            return ((GroupNormImpl) norm).weight();
        }
    }

    /** Default {@code freeze_at}: detectron2's 2 (stem and layer1 frozen). */
    public static final int DEFAULT_FREEZE_AT = 2;
    /** Largest {@code freeze_at}: the stem and layer1..layer3, i.e. the whole extractor. */
    public static final int MAX_FREEZE_AT = 4;

    private final Depth depth;
    private final Norm norm;
    private final int roiSize;
    private final Trunk trunk;
    private final Top top;

    /**
     * Builds a randomly initialised backbone whose RoI head pools {@value #DEFAULT_ROI_SIZE}x{@value #DEFAULT_ROI_SIZE}
     * in front of layer4.
     *
     * @param depth ResNet-50 or ResNet-101
     */
    public ResNetC4Backbone(Depth depth) {
        this(depth, DEFAULT_ROI_SIZE, Norm.FROZEN_BN, DEFAULT_FREEZE_AT);
    }

    /**
     * Builds a randomly initialised backbone. The RoI head in front of layer4 pools {@code roiSize x roiSize} at
     * spatial scale 1/{@value #FEATURE_STRIDE} (the head owns the operator; see {@link dev.frcnn.assembly.Detectors}). layer4 is
     * convolutional and ends in a mean over H and W, so any size works and the weights do not depend on it; its
     * first block halves the size ({@code ceil(roiSize / 2)}), and its cost per RoI grows with {@code roiSize^2}
     * (7 costs about a third of 14; {@code docs/resnet.md}).
     *
     * @param depth ResNet-50 or ResNet-101
     * @param roiSize pooled RoI height and width, {@code >= 1}
     * @param norm the normalisation layers
     * @param freezeAt detectron2's {@code FREEZE_AT}: 0 trains everything, 1 freezes the stem ({@code conv1},
     *     {@code bn1}), k in 2..{@value #MAX_FREEZE_AT} also {@code layer1..layer(k-1)}
     * @throws IllegalArgumentException if {@code depth} or {@code norm} is null, {@code roiSize < 1} or
     *     {@code freezeAt} is outside [0, {@value #MAX_FREEZE_AT}]
     */
    public ResNetC4Backbone(Depth depth, int roiSize, Norm norm, int freezeAt) {
        if (depth == null) throw new IllegalArgumentException("depth is required");
        if (norm == null) throw new IllegalArgumentException("norm is required");
        if (roiSize < 1) throw new IllegalArgumentException("roiSize must be >= 1: " + roiSize);
        if (freezeAt < 0 || freezeAt > MAX_FREEZE_AT) {
            throw new IllegalArgumentException("freezeAt must be in [0, " + MAX_FREEZE_AT + "]: " + freezeAt);
        }
        this.depth = depth;
        this.norm = norm;
        this.roiSize = roiSize;
        int[] blocks = depth.blocks;
        this.trunk = new Trunk(blocks, norm);
        this.top = new Top(blocks[3], norm);
        // FrozenBatchNorm2d's own parameters never train; freeze_at freezes whole stages on top of that.
        if (freezeAt >= 1) {
            setRequiresGrad(trunk.conv1, false);
            setRequiresGrad(trunk.bn1, false);
        }
        for (int k = 1; k < freezeAt; k++) setRequiresGrad(trunk.layer(k), false);
    }

    private static void setRequiresGrad(Module m, boolean on) {
        StringTensorDict ps = m.named_parameters(true);
        for (long i = 0; i < ps.size(); i++) ps.get(i).value().requires_grad_(on);
    }

    /**
     * Zero-initialises the residual branches for training from scratch: the weight of {@code conv3}, the last conv
     * of every Bottleneck in layer1..layer4, is set to 0, so that every block starts as its shortcut (identity or
     * projection) and the randomly initialised network passes signals of bounded size. The idea of torchvision's
     * {@code resnet50(zero_init_residual=True)} (which zeroes {@code bn3.weight}; here BatchNorm is frozen, so
     * its weight could not learn back, and the trainable {@code conv3} is zeroed instead) and of Fixup
     * (Zhang et al., 2019). With {@link Norm#GROUP_NORM}, whose scale trains, {@code bn3.weight} is zeroed instead,
     * exactly torchvision's {@code zero_init_residual} (zeroing {@code conv3} there would put an all-zero input
     * into GroupNorm, whose gradient is then scaled by 1/sqrt(eps)). Only for random initialisation: loading
     * weights afterwards overwrites it.
     */
    public void zeroInitResiduals() {
        try (NoGradGuard g = new NoGradGuard()) {
            for (int k = 1; k <= 4; k++) {
                Stage st = k == 4 ? top.layer4() : trunk.layer(k);
                for (int i = 0; i < st.size(); i++) st.block(i).zeroInitResidual(norm);
            }
        }
    }

    /** The normalisation layers' kind. */
    public Norm norm() { return norm; }

    /** The depth this backbone was built with. */
    public Depth depth() { return depth; }

    /** The trunk (conv1 .. layer3) with typed access to its stages. */
    public Trunk trunk() { return trunk; }

    /** The classifier module (layer4) with typed access. */
    public Top top() { return top; }

    /** {@inheritDoc} The {@link Trunk}: children {@code conv1, bn1, layer1, layer2, layer3}. */
    @Override public Module extractor() { return trunk; }

    /** {@inheritDoc} (N, 3, H, W) float32 to (N, 1024, ceil(H/16), ceil(W/16)) float32 (each stride-2 stage rounds up). */
    @Override public Tensor extract(Tensor x) { return trunk.forward(x); }

    /** @return 1024 */
    @Override public int featureChannels() { return FEATURE_CHANNELS; }

    /** @return 16 */
    @Override public int featureStride() { return FEATURE_STRIDE; }

    /**
     * {@inheritDoc} The {@link Top} (child {@code layer4}): layer4 on (R, 1024, S, S), then the mean over H, W:
     * (R, 2048) float32; S = the RoI size (14 by default, {@code roi_size}).
     */
    @Override public BoxHead boxHead() {
        return BoxHead.of(top, top::forward, OUTPUT_CHANNELS, roiSize);
    }

    // ---------------------------------------------------------------------------------------------------------

    static Conv2dImpl conv(int in, int out, int kernel, int stride, int padding) {
        Conv2dOptions o = new Conv2dOptions(in, out, new LongPointer(kernel, kernel));
        o.stride().put(new long[]{stride, stride});
        o.padding().put(new LongPointer(padding, padding));
        o.bias().put(false);
        Conv2dImpl c = new Conv2dImpl(o);
        try (NoGradGuard g = new NoGradGuard()) {
            double fanOut = (double) out * kernel * kernel;
            c.weight().normal_(0.0, Math.sqrt(2.0 / fanOut), new GeneratorOptional());
        }
        return c;
    }

    /**
     * torchvision's {@code Bottleneck} (v1.5): {@code conv1} 1x1 (in to width), {@code bn1}, ReLU, {@code conv2}
     * 3x3 stride s pad 1, {@code bn2}, ReLU, {@code conv3} 1x1 (width to 4*width), {@code bn3}, plus the
     * identity or {@code downsample} (1x1 stride s conv {@code downsample.0} + BN {@code downsample.1}), ReLU.
     */
    public static final class Bottleneck extends Module {
        private final Conv2dImpl conv1, conv2, conv3;
        private final Module bn1, bn2, bn3;
        private final Downsample downsample;

        /**
         * @param in input channels
         * @param width bottleneck width (output channels = 4 x width)
         * @param stride stride of conv2 and of the downsample conv (1 or 2)
         * @param withDownsample whether the shortcut is a projection (torchvision: stride != 1 or in != 4*width)
         * @param norm the normalisation layers
         */
        public Bottleneck(int in, int width, int stride, boolean withDownsample, Norm norm) {
            this(in, width, stride, withDownsample, norm::create);
        }

        /** As the public constructor, with the normalisation layers made by {@code norm} (channels to layer). */
        Bottleneck(int in, int width, int stride, boolean withDownsample, IntFunction<Module> norm) {
            super("Bottleneck");
            conv1 = register_module("conv1", conv(in, width, 1, 1, 0));
            bn1 = register_module("bn1", norm.apply(width));
            conv2 = register_module("conv2", conv(width, width, 3, stride, 1));
            bn2 = register_module("bn2", norm.apply(width));
            conv3 = register_module("conv3", conv(width, width * EXPANSION, 1, 1, 0));
            bn3 = register_module("bn3", norm.apply(width * EXPANSION));
            downsample = withDownsample ? register_module("downsample", new Downsample(in, width * EXPANSION, stride, norm)) : null;
        }

        void zeroInitResidual(Norm norm) {
            (norm == Norm.GROUP_NORM ? Norm.weight(bn3) : conv3.weight()).zero_();
        }

        /**
         * @param x (N, in, H, W) float32
         * @return (N, 4*width, ceil(H/stride), ceil(W/stride)) float32
         */
        public Tensor forward(Tensor x) {
            Tensor out = relu(Norm.apply(bn1, conv1.forward(x)));
            out = relu(Norm.apply(bn2, conv2.forward(out)));
            out = Norm.apply(bn3, conv3.forward(out));
            Tensor identity = downsample == null ? x : downsample.forward(x);
            return relu(out.add(identity));
        }
    }

    /** The projection shortcut: children {@code 0} (1x1 conv, no bias) and {@code 1} (the {@link Norm}). */
    public static final class Downsample extends Module {
        private final Conv2dImpl conv;
        private final Module bn;

        /** @param in input channels @param out output channels @param stride conv stride @param norm the norm */
        public Downsample(int in, int out, int stride, Norm norm) {
            this(in, out, stride, norm::create);
        }

        /** As the public constructor, with the normalisation layer made by {@code norm} (channels to layer). */
        Downsample(int in, int out, int stride, IntFunction<Module> norm) {
            super("Sequential");
            conv = register_module("0", conv(in, out, 1, stride, 0));
            bn = register_module("1", norm.apply(out));
        }

        /**
         * The strided 1x1 convolution goes through {@link ConvolutionBackward#stridedPointwise}: on CPUs whose
         * oneDNN crashes in its backward, it runs with stride 1 on the subsampled input (same values).
         *
         * @param x (N, in, H, W) float32 @return (N, out, ceil(H/stride), ceil(W/stride)) float32
         */
        public Tensor forward(Tensor x) { return Norm.apply(bn, ConvolutionBackward.stridedPointwise(conv, x)); }
    }

    /** One stage ({@code layerK}): Bottleneck children named {@code 0 .. n-1}; the first carries the stride. */
    public static final class Stage extends Module {
        private final List<Bottleneck> blocks = new ArrayList<>();

        /**
         * @param in input channels
         * @param width bottleneck width
         * @param n number of blocks (&gt;= 1)
         * @param stride stride of the first block
         * @param norm the normalisation layers
         */
        public Stage(int in, int width, int n, int stride, Norm norm) {
            this(in, width, n, stride, norm::create);
        }

        /** As the public constructor, with the normalisation layers made by {@code norm} (channels to layer). */
        Stage(int in, int width, int n, int stride, IntFunction<Module> norm) {
            super("Sequential");
            for (int i = 0; i < n; i++) {
                boolean first = i == 0;
                int blockIn = first ? in : width * EXPANSION;
                boolean ds = first && (stride != 1 || in != width * EXPANSION);
                blocks.add(register_module(Integer.toString(i), new Bottleneck(blockIn, width, first ? stride : 1, ds, norm)));
            }
        }

        /** Number of blocks. */
        public int size() { return blocks.size(); }

        /** Block {@code i}. */
        public Bottleneck block(int i) { return blocks.get(i); }

        /** Runs the blocks in order. @param x (N, C, H, W) float32 @return the last block's output */
        public Tensor forward(Tensor x) {
            for (Bottleneck b : blocks) x = b.forward(x);
            return x;
        }
    }

    /** The trunk: {@code conv1} (7x7/2, pad 3), {@code bn1}, ReLU, max-pool 3/2 pad 1, {@code layer1..layer3}. */
    public static final class Trunk extends Module {
        private final Conv2dImpl conv1;
        private final Module bn1;
        private final Stage layer1, layer2, layer3;

        /**
         * @param blocks blocks per stage (at least 3 entries; layer1..layer3 use the first three)
         * @param norm the normalisation layers
         */
        public Trunk(int[] blocks, Norm norm) {
            super("ResNetC4Trunk");
            conv1 = register_module("conv1", conv(3, 64, 7, 2, 3));
            bn1 = register_module("bn1", norm.create(64));
            layer1 = register_module("layer1", new Stage(64, 64, blocks[0], 1, norm));
            layer2 = register_module("layer2", new Stage(256, 128, blocks[1], 2, norm));
            layer3 = register_module("layer3", new Stage(512, 256, blocks[2], 2, norm));
        }

        /** Stage {@code k} = 1, 2 or 3 ({@code layer1..layer3}). */
        public Stage layer(int k) {
            return switch (k) {
                case 1 -> layer1;
                case 2 -> layer2;
                case 3 -> layer3;
                default -> throw new IllegalArgumentException("trunk stages are 1..3, got " + k);
            };
        }

        /**
         * conv1, bn1, ReLU, max-pool (3x3, stride 2, pad 1).
         *
         * @param x (N, 3, H, W) float32 normalised images
         * @return (N, 64, ~H/4, ~W/4) float32
         */
        public Tensor stem(Tensor x) {
            Tensor y = relu(Norm.apply(bn1, conv1.forward(x)));
            return max_pool2d(y, new long[]{3, 3}, new long[]{2, 2}, new long[]{1, 1}, new long[]{1, 1}, false);
        }

        /** @param x (N, 3, H, W) float32 @return (N, 1024, ~H/16, ~W/16) float32 (layer3's output) */
        public Tensor forward(Tensor x) {
            return layer3.forward(layer2.forward(layer1.forward(stem(x))));
        }
    }

    /** The head's top: {@code layer4} (width 512, first block stride 2), then the mean over H and W. */
    public static final class Top extends Module {
        private final Stage layer4;

        /** @param blocks number of layer4 blocks (3 for ResNet-50/101) @param norm the normalisation layers */
        public Top(int blocks, Norm norm) {
            super("ResNetC4Top");
            layer4 = register_module("layer4", new Stage(FEATURE_CHANNELS, 512, blocks, 2, norm));
        }

        /** The {@code layer4} stage. */
        public Stage layer4() { return layer4; }

        /**
         * @param pooled (R, 1024, h, w) float32 pooled RoI features (h = w = 14 in the C4 head)
         * @return (R, 2048) float32 = {@code layer4(pooled).mean(dim=(2, 3))}
         */
        public Tensor forward(Tensor pooled) {
            return layer4.forward(pooled).mean(2, 3);
        }
    }

    /** {@inheritDoc} */
    @Override public int minInputSide() { return MIN_INPUT_SIDE; }
}
