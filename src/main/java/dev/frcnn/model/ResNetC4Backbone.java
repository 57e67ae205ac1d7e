package dev.frcnn.model;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

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
 * in {@code downsample.0}); convolutions have no bias. Every BatchNorm is a {@link FrozenBatchNorm2d} (eps
 * 1e-5): it always uses its running statistics, also after {@code train(true)}, and its affine parameters have
 * {@code requires_grad=false}. As in detectron2 ({@code FREEZE_AT=2}), {@code conv1} and all of {@code layer1}
 * are frozen as well; layer2..layer4 are trained.
 *
 * <p>Module names are torchvision's. Registered by {@link FasterRCNN} (as {@code extractor}) and the RoI head
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
    /** Channels of layer4's output, the width of {@link #classify(Tensor)}. */
    public static final int OUTPUT_CHANNELS = 2048;
    /** Output size of the RoI pooling in front of layer4. */
    public static final int ROI_SIZE = 14;
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

    private final Depth depth;
    private final Trunk trunk;
    private final Top top;

    /**
     * Builds a randomly initialised backbone. The RoI head in front of layer4 pools {@value #ROI_SIZE}x{@value #ROI_SIZE}
     * at spatial scale 1/{@value #FEATURE_STRIDE} (the head owns the operator; see {@link Detectors}).
     *
     * @param depth ResNet-50 or ResNet-101
     */
    public ResNetC4Backbone(Depth depth) {
        if (depth == null) throw new IllegalArgumentException("depth is required");
        this.depth = depth;
        int[] blocks = depth.blocks;
        this.trunk = new Trunk(blocks);
        this.top = new Top(blocks[3]);
        // detectron2 FREEZE_AT = 2: stem (conv1 + bn1) and res2 (layer1) are not trained.
        setRequiresGrad(trunk.conv1, false);
        setRequiresGrad(trunk.layer1, false);
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
     * (Zhang et al., 2019). Only for random initialisation: loading weights afterwards overwrites it.
     */
    public void zeroInitResiduals() {
        try (NoGradGuard g = new NoGradGuard()) {
            for (int k = 1; k <= 3; k++) {
                Stage st = trunk.layer(k);
                for (int i = 0; i < st.size(); i++) st.block(i).conv3.weight().zero_();
            }
            for (int i = 0; i < top.layer4().size(); i++) top.layer4().block(i).conv3.weight().zero_();
        }
    }

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

    /** {@inheritDoc} The {@link Top}: child {@code layer4}. */
    @Override public Module classifier() { return top; }

    /** {@inheritDoc} layer4 on (R, 1024, 14, 14), then the mean over H, W: (R, 2048) float32. */
    @Override public Tensor classify(Tensor pooled) { return top.forward(pooled); }

    /** @return 2048 */
    @Override public int classifierOutputWidth() { return OUTPUT_CHANNELS; }

    /** @return 14 */
    @Override public int roiSize() { return ROI_SIZE; }

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
        private final FrozenBatchNorm2d bn1, bn2, bn3;
        private final Downsample downsample;

        /**
         * @param in input channels
         * @param width bottleneck width (output channels = 4 x width)
         * @param stride stride of conv2 and of the downsample conv (1 or 2)
         * @param withDownsample whether the shortcut is a projection (torchvision: stride != 1 or in != 4*width)
         */
        public Bottleneck(int in, int width, int stride, boolean withDownsample) {
            super("Bottleneck");
            conv1 = register_module("conv1", conv(in, width, 1, 1, 0));
            bn1 = register_module("bn1", new FrozenBatchNorm2d(width));
            conv2 = register_module("conv2", conv(width, width, 3, stride, 1));
            bn2 = register_module("bn2", new FrozenBatchNorm2d(width));
            conv3 = register_module("conv3", conv(width, width * EXPANSION, 1, 1, 0));
            bn3 = register_module("bn3", new FrozenBatchNorm2d(width * EXPANSION));
            downsample = withDownsample ? register_module("downsample", new Downsample(in, width * EXPANSION, stride)) : null;
        }

        /**
         * @param x (N, in, H, W) float32
         * @return (N, 4*width, ceil(H/stride), ceil(W/stride)) float32
         */
        public Tensor forward(Tensor x) {
            Tensor out = relu(bn1.forward(conv1.forward(x)));
            out = relu(bn2.forward(conv2.forward(out)));
            out = bn3.forward(conv3.forward(out));
            Tensor identity = downsample == null ? x : downsample.forward(x);
            return relu(out.add(identity));
        }
    }

    /** The projection shortcut: children {@code 0} (1x1 conv, no bias) and {@code 1} (frozen BN). */
    public static final class Downsample extends Module {
        private final Conv2dImpl conv;
        private final FrozenBatchNorm2d bn;

        /** @param in input channels @param out output channels @param stride conv stride */
        public Downsample(int in, int out, int stride) {
            super("Sequential");
            conv = register_module("0", conv(in, out, 1, stride, 0));
            bn = register_module("1", new FrozenBatchNorm2d(out));
        }

        /** @param x (N, in, H, W) float32 @return (N, out, ceil(H/stride), ceil(W/stride)) float32 */
        public Tensor forward(Tensor x) { return bn.forward(conv.forward(x)); }
    }

    /** One stage ({@code layerK}): Bottleneck children named {@code 0 .. n-1}; the first carries the stride. */
    public static final class Stage extends Module {
        private final List<Bottleneck> blocks = new ArrayList<>();

        /**
         * @param in input channels
         * @param width bottleneck width
         * @param n number of blocks (&gt;= 1)
         * @param stride stride of the first block
         */
        public Stage(int in, int width, int n, int stride) {
            super("Sequential");
            for (int i = 0; i < n; i++) {
                boolean first = i == 0;
                int blockIn = first ? in : width * EXPANSION;
                boolean ds = first && (stride != 1 || in != width * EXPANSION);
                blocks.add(register_module(Integer.toString(i), new Bottleneck(blockIn, width, first ? stride : 1, ds)));
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
        private final FrozenBatchNorm2d bn1;
        private final Stage layer1, layer2, layer3;

        /** @param blocks blocks per stage (at least 3 entries; layer1..layer3 use the first three) */
        public Trunk(int[] blocks) {
            super("ResNetC4Trunk");
            conv1 = register_module("conv1", conv(3, 64, 7, 2, 3));
            bn1 = register_module("bn1", new FrozenBatchNorm2d(64));
            layer1 = register_module("layer1", new Stage(64, 64, blocks[0], 1));
            layer2 = register_module("layer2", new Stage(256, 128, blocks[1], 2));
            layer3 = register_module("layer3", new Stage(512, 256, blocks[2], 2));
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
            Tensor y = relu(bn1.forward(conv1.forward(x)));
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

        /** @param blocks number of layer4 blocks (3 for ResNet-50/101) */
        public Top(int blocks) {
            super("ResNetC4Top");
            layer4 = register_module("layer4", new Stage(FEATURE_CHANNELS, 512, blocks, 2));
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
}
