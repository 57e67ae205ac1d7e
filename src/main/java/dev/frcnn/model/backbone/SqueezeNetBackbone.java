package dev.frcnn.model.backbone;

import dev.frcnn.model.utils.ChildModules;
import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.model.roi.BoxHead;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.FanModeType;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.MaxPool2dImpl;
import org.bytedeco.pytorch.MaxPool2dOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Nonlinearity;
import org.bytedeco.pytorch.ReLUImpl;
import org.bytedeco.pytorch.ReLUOptions;
import org.bytedeco.pytorch.SequentialImpl;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.MemoryFormat;
import org.bytedeco.pytorch.kFanIn;
import org.bytedeco.pytorch.kLeakyReLU;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.kaiming_uniform_;
import static org.bytedeco.pytorch.global.torch.relu_;

/**
 * SqueezeNet 1.1 as a Faster R-CNN backbone: the extractor is torchvision's {@code squeezenet1_1().features}
 * (indices 0..12: conv1 3x3/2 (64), ReLU, MaxPool(3, 2, ceil_mode=True), fire2, fire3, pool, fire4, fire5, pool,
 * fire6 .. fire9; 512 channels at stride 16), and the RoI head's classifier is two new fully connected layers
 * {@code 25088 -> width -> width}, each followed by ReLU, with PyTorch's default initialisation (the
 * {@code representation_size}; 1024 in {@code configs/raccoon-squeezenet.json}).
 *
 * <p>Feature size: the ceil-mode pools round up, so a 600x800 input gives a 37x49 map (not 600/16 x 800/16 =
 * 37x50); the RPN's anchors and the RoI pooling follow the tensor's real size.
 *
 * <p>Keys: a torchvision key {@code features.<i>.*} becomes {@code extractor.<i>.*} (Fire modules keep
 * {@code squeeze}, {@code expand1x1}, {@code expand3x3}); {@code classifier.*} (conv10, the ImageNet classifier)
 * has no counterpart ({@link #pretrainedKey(String)}). The classifier is {@code head.classifier.0.*} and
 * {@code head.classifier.2.*}.
 *
 * <p>Training: the first {@code frozenPrefix} extractor modules (5 in the catalogue: conv1, fire2, fire3, as the
 * reference freezes VGG16's conv1/conv2) are frozen by {@link Backbones}. While they are frozen and the input needs
 * no gradient, they run without autograd; features and gradients are the same as running them with autograd. Initialisation before loading weights is torchvision's (convolutions Kaiming
 * uniform, biases 0).
 */
public final class SqueezeNetBackbone implements Backbone {
    /** Input pixels per feature cell. */
    public static final int FEATURE_STRIDE = 16;
    /** Channels of fire9's output. */
    public static final int FEATURE_CHANNELS = 512;
    /** RoI pooling output size. */
    public static final int ROI_SIZE = 7;
    /**
     * Smallest input side: conv1 (3x3, stride 2, no padding) then three 3x3/2 max pools in ceil mode; at 16 pixels
     * the third pool's input is 1 pixel and its output empty.
     */
    public static final int MIN_INPUT_SIDE = 17;
    /** Number of {@code features} modules (indices 0..12). */
    public static final int LAYERS = 13;

    private static final Pattern FEATURES = Pattern.compile("features\\.(\\d+)\\.(.+)");
    private static final Pattern CLASSIFIER = Pattern.compile("classifier\\..+");

    private final Features extractor;
    private final SequentialImpl classifier = new SequentialImpl();
    private final int width;
    private final int frozenPrefix;
    private final ChildModules children = new ChildModules();

    /**
     * A randomly initialised backbone.
     *
     * @param representationSize width of the two fully connected layers ({@code > 0})
     * @param frozenPrefix number of leading extractor modules that may run without autograd when frozen (0..13)
     * @throws IllegalArgumentException for a bad width or prefix
     */
    public SqueezeNetBackbone(int representationSize, int frozenPrefix) {
        if (representationSize < 1) throw new IllegalArgumentException("representation size must be > 0, got " + representationSize);
        if (frozenPrefix < 0 || frozenPrefix > LAYERS) throw new IllegalArgumentException("frozen prefix must be in 0..13");
        this.width = representationSize;
        this.frozenPrefix = frozenPrefix;
        this.extractor = new Features();
        LinearImpl fc6 = children.keep(new LinearImpl((long) FEATURE_CHANNELS * ROI_SIZE * ROI_SIZE, width));
        LinearImpl fc7 = children.keep(new LinearImpl(width, width));
        classifier.push_back(fc6);
        classifier.push_back(children.keep(new ReLUImpl()));
        classifier.push_back(fc7);
        classifier.push_back(children.keep(new ReLUImpl()));
    }


    /**
     * The model key of a key of torchvision's {@code squeezenet1_1().state_dict()}.
     *
     * @param key e.g. {@code features.12.expand3x3.weight}
     * @return {@code extractor.12.expand3x3.weight}, or empty for {@code classifier.*}
     * @throws WeightsMismatchException for a key that is not one of torchvision's squeezenet1_1 features keys
     */
    public static Optional<String> pretrainedKey(String key) {
        Matcher f = FEATURES.matcher(key);
        if (f.matches() && f.group(1).length() <= 2 && Integer.parseInt(f.group(1)) < LAYERS) {
            return Optional.of("extractor." + f.group(1) + "." + f.group(2));
        }
        if (CLASSIFIER.matcher(key).matches()) return Optional.empty();
        throw new WeightsMismatchException("squeezenet1_1 (from torchvision squeezenet1_1 keys)", List.of(),
                List.of(key), List.of());
    }

    /** {@inheritDoc} Children {@code 0} .. {@code 12} as torchvision's {@code features}. */
    @Override public Module extractor() { return extractor; }

    /**
     * {@inheritDoc} (N, 3, H, W) float32 to (N, 512, h, w) float32 with h = ceil-mode size after conv1 and three
     * pools (37x49 for 600x800). The activations, and so the returned features, are in channels-last memory
     * format (same values, strides (h*w*512, 1, w*512, 512)); on the CPU this skips oneDNN's layout conversion around
     * each of the 26 convolutions (about 2.5x faster than the default layout), and the RPN's 3x3 conv runs on it too.
     */
    @Override
    public Tensor extract(Tensor x) {
        List<UnaryOperator<Tensor>> ops = extractor.ops;
        boolean skipPrefix = GradMode.is_enabled() && !x.requires_grad() && frozenPrefix > 0 && prefixFrozen();
        // Channels-last (NHWC): oneDNN runs the many small convolutions without a layout conversion around each.
        Tensor h = x.dim() == 4 ? x.contiguous(MemoryFormat.ChannelsLast) : x;
        int start = 0;
        if (skipPrefix) {
            try (NoGradGuard g = new NoGradGuard()) {
                for (; start < frozenPrefix; start++) h = ops.get(start).apply(h);
            }
        }
        for (int i = start; i < ops.size(); i++) h = ops.get(i).apply(h);
        return h;
    }

    private boolean prefixFrozen() {
        StringTensorDict ps = extractor.named_parameters(true);
        for (long i = 0; i < ps.size(); i++) {
            String k = ps.get(i).key().getString();
            int layer = Integer.parseInt(k.substring(0, k.indexOf('.')));
            if (layer < frozenPrefix && ps.get(i).value().requires_grad()) return false;
        }
        return true;
    }

    /** @return 512 */
    @Override public int featureChannels() { return FEATURE_CHANNELS; }

    /** @return 16 */
    @Override public int featureStride() { return FEATURE_STRIDE; }

    /**
     * {@inheritDoc} fc6 (25088 to width), ReLU, fc7 (width to width), ReLU: (R, 512, 7, 7) to (R, width) float32,
     * width = the representation size. RoI size 7.
     */
    @Override public BoxHead boxHead() {
        // (R, C*S*S); R may be 0 (no RoI)
        return BoxHead.of(classifier, pooled -> classifier.forward(pooled.flatten(1, -1)), width, ROI_SIZE);
    }

    private static Conv2dImpl conv(int in, int out, int kernel, int stride, int padding) {
        Conv2dOptions o = new Conv2dOptions(in, out, new LongPointer(kernel, kernel));
        o.stride().put(new long[]{stride, stride});
        o.padding().put(new LongPointer(padding, padding));
        Conv2dImpl c = new Conv2dImpl(o);
        try (NoGradGuard g = new NoGradGuard()) {
            kaiming_uniform_(c.weight(), 0.0, new FanModeType(new kFanIn()), new Nonlinearity(new kLeakyReLU()));
            c.bias().zero_();
        }
        return c;
    }

    /**
     * torchvision's {@code Fire}: {@code squeeze} 1x1 (in to s) + ReLU, then {@code expand1x1} 1x1 and
     * {@code expand3x3} 3x3 pad 1 (s to e each) + ReLU, concatenated on channels (2e out).
     */
    public static final class Fire extends Module {
        private final Conv2dImpl squeeze, expand1x1, expand3x3;

        /** @param in input channels @param s squeeze channels @param e1 expand1x1 channels @param e3 expand3x3 channels */
        public Fire(int in, int s, int e1, int e3) {
            super("Fire");
            squeeze = register_module("squeeze", conv(in, s, 1, 1, 0));
            expand1x1 = register_module("expand1x1", conv(s, e1, 1, 1, 0));
            expand3x3 = register_module("expand3x3", conv(s, e3, 3, 1, 1));
        }

        /** @param x (N, in, H, W) float32 @return (N, e1 + e3, H, W) float32 */
        public Tensor forward(Tensor x) {
            Tensor s = relu_(squeeze.forward(x));
            return cat(new TensorVector(relu_(expand1x1.forward(s)), relu_(expand3x3.forward(s))), 1);
        }
    }

    /**
     * torchvision's {@code squeezenet1_1().features}: 13 children named {@code 0} .. {@code 12} (conv, ReLU and
     * ceil-mode max-pool modules included, so that child indices are torchvision's and the frozen prefix counts the
     * same modules).
     */
    public static final class Features extends Module {
        final List<UnaryOperator<Tensor>> ops = new ArrayList<>();
        private final List<Module> kept = new ArrayList<>();

        Features() {
            super("SqueezeNetFeatures");
            Conv2dImpl conv1 = add(conv(3, 64, 3, 2, 0));
            ops.add(conv1::forward);
            ReLUImpl relu = add(new ReLUImpl(new ReLUOptions(true)));
            ops.add(relu::forward);
            pool();
            fire(64, 16, 64, 64);
            fire(128, 16, 64, 64);
            pool();
            fire(128, 32, 128, 128);
            fire(256, 32, 128, 128);
            pool();
            fire(256, 48, 192, 192);
            fire(384, 48, 192, 192);
            fire(384, 64, 256, 256);
            fire(512, 64, 256, 256);
        }

        /** Registers the next module under its torchvision index. */
        private <M extends Module> M add(M m) {
            M r = register_module(Integer.toString(kept.size()), m);
            kept.add(m);
            return r;
        }

        private void pool() {
            MaxPool2dOptions o = new MaxPool2dOptions(new LongPointer(3L, 3L));
            o.stride().put(new long[]{2, 2});
            o.ceil_mode().put(true);
            MaxPool2dImpl p = add(new MaxPool2dImpl(o));
            ops.add(p::forward);
        }

        private void fire(int in, int sq, int e1, int e3) {
            Fire f = add(new Fire(in, sq, e1, e3));
            ops.add(f::forward);
        }

        /** @param x (N, 3, H, W) float32 @return (N, 512, h, w) float32 */
        public Tensor forward(Tensor x) {
            Tensor h = x;
            for (UnaryOperator<Tensor> op : ops) h = op.apply(h);
            return h;
        }
    }

    /** {@inheritDoc} */
    @Override public int minInputSide() { return MIN_INPUT_SIDE; }
}
