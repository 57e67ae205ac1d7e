package dev.frcnn.model.backbone;

import dev.frcnn.model.utils.ChildModules;
import dev.frcnn.model.roi.BoxHead;
import dev.frcnn.tensor.Autocast;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Context;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.DropoutImpl;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.MaxPool2dImpl;
import org.bytedeco.pytorch.MaxPool2dOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ReLUImpl;
import org.bytedeco.pytorch.ReLUOptions;
import org.bytedeco.pytorch.SequentialImpl;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import static org.bytedeco.pytorch.global.torch.globalContext;

/**
 * VGG-16 split as in the reference's {@code decom_vgg16()}: the extractor is torchvision's
 * {@code vgg16.features[:30]} (conv1_1 .. relu5_3, without the last max-pool; stride 16, 512 channels) and
 * the classifier is fc6 (25088 to 4096), ReLU, fc7 (4096 to 4096), ReLU, with a Dropout after each ReLU
 * only when {@code useDrop} is set.
 *
 * <p>Sub-module indices are torchvision's, so the parameters are named {@code extractor.0.weight} ..
 * {@code extractor.28.bias} and {@code head.classifier.0.*}, {@code head.classifier.2.*} (or
 * {@code .0}/{@code .3} with dropout) once registered by {@link dev.frcnn.model.FasterRCNN} and {@link dev.frcnn.model.roi.RoIHead}. As in
 * the reference, conv1_1 .. conv2_2 (extractor layers 0, 2, 5, 7) are frozen ({@code requires_grad}
 * false). Initialisation follows torchvision's VGG (conv: Kaiming normal, fan_out, ReLU; linear: normal
 * std 0.01; biases 0); pretrained weights are loaded by key afterwards.
 */
public final class VGG16Backbone implements Backbone {
    /** torchvision's VGG-16 "D" configuration; -1 is a 2x2 max-pool. */
    private static final int[] CFG = {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512};
    /** Number of leading extractor modules whose parameters are frozen (reference: {@code features[:10]}). */
    static final int FROZEN_PREFIX = 10;

    private static final int FEATURE_STRIDE = 16;
    private static final int FEATURE_CHANNELS = 512;
    private static final int FC_WIDTH = 4096;
    /** Height and width of the pooled RoI features its fc6 flattens. */
    public static final int ROI_SIZE = 7;
    /** Smallest input side: the four 2x2 max pools (floor) of conv1..conv4 need 16 pixels for a 1-pixel map. */
    public static final int MIN_INPUT_SIDE = 16;

    private final SequentialImpl extractor;
    /** The extractor's modules in order, as forward functions (same module objects as {@link #extractor}). */
    private final List<UnaryOperator<Tensor>> extractorLayers = new ArrayList<>();
    /** conv1_1 .. conv2_2, the parameters that the reference freezes. */
    private final List<Conv2dImpl> frozenPrefixConvs = new ArrayList<>();
    private final SequentialImpl classifier;
    private final boolean useDrop;
    /**
     * Strong Java references to every layer pushed into the Sequentials: JavaCPP frees a module's native
     * object when its Java wrapper is collected, even while a Sequential still holds it.
     */
    private final ChildModules children = new ChildModules();

    /**
     * Builds a randomly initialised VGG-16 backbone.
     *
     * @param useDrop keep torchvision's two Dropout(0.5) layers in the classifier (reference {@code opt.use_drop})
     */
    public VGG16Backbone(boolean useDrop) {
        this.useDrop = useDrop;
        this.extractor = new SequentialImpl();
        List<Conv2dImpl> convs = new ArrayList<>();
        int in = 3;
        int index = 0;
        List<Integer> frozenConvs = new ArrayList<>();
        for (int c : CFG) {
            if (c < 0) {
                MaxPool2dImpl pool = children.keep(new MaxPool2dImpl(new MaxPool2dOptions(new LongPointer(2L, 2L))));
                extractor.push_back(pool);
                extractorLayers.add(pool::forward);
                index++;
            } else {
                Conv2dOptions o = new Conv2dOptions(in, c, new LongPointer(3L, 3L));
                o.padding().put(new LongPointer(1L, 1L));
                Conv2dImpl conv = children.keep(new Conv2dImpl(o));
                extractor.push_back(conv);
                extractorLayers.add(conv::forward);
                convs.add(conv);
                if (index < FROZEN_PREFIX) frozenConvs.add(convs.size() - 1);
                ReLUImpl relu = children.keep(new ReLUImpl(new ReLUOptions(true)));
                extractor.push_back(relu);
                extractorLayers.add(relu::forward);
                index += 2;
                in = c;
            }
        }
        this.classifier = new SequentialImpl();
        LinearImpl fc6 = children.keep(new LinearImpl(FEATURE_CHANNELS * ROI_SIZE * ROI_SIZE, FC_WIDTH));
        LinearImpl fc7 = children.keep(new LinearImpl(FC_WIDTH, FC_WIDTH));
        classifier.push_back(fc6);
        classifier.push_back(children.keep(new ReLUImpl()));
        if (useDrop) classifier.push_back(children.keep(new DropoutImpl(0.5)));
        classifier.push_back(fc7);
        classifier.push_back(children.keep(new ReLUImpl()));
        if (useDrop) classifier.push_back(children.keep(new DropoutImpl(0.5)));

        try (NoGradGuard g = new NoGradGuard()) {
            for (Conv2dImpl conv : convs) {
                double fanOut = (double) conv.weight().size(0) * conv.weight().size(2) * conv.weight().size(3);
                conv.weight().normal_(0.0, Math.sqrt(2.0 / fanOut), new GeneratorOptional());
                conv.bias().zero_();
            }
            for (LinearImpl fc : List.of(fc6, fc7)) {
                fc.weight().normal_(0.0, 0.01, new GeneratorOptional());
                fc.bias().zero_();
            }
        }
        for (int i : frozenConvs) {
            convs.get(i).weight().requires_grad_(false);
            convs.get(i).bias().requires_grad_(false);
            frozenPrefixConvs.add(convs.get(i));
        }
    }


    /** Whether the classifier contains the two Dropout layers. */
    public boolean useDrop() { return useDrop; }

    /** {@inheritDoc} A {@link SequentialImpl} with torchvision's indices 0..29. */
    @Override public Module extractor() { return extractor; }

    /**
     * {@inheritDoc} (N, 3, H, W) float32 to (N, 512, floor(H/16), floor(W/16)).
     *
     * <p>On the CPU without autograd (inference), the activations stay in oneDNN's blocked layout from the first
     * conv to the last ReLU ({@code to_mkldnn} ... {@code to_dense}): the kernels are the ones the dense path runs,
     * the values are bit-identical, and the per-layer layout conversions are skipped (VGG16 at 600x800: 1.47 s to
     * 1.07 s).
     *
     * <p>With autograd on (training), while conv1_1 .. conv2_2 are frozen and {@code x} needs no gradient, as in
     * the reference, nothing of layers 0..9 takes part in the backward pass: they run without autograd (on the
     * CPU in oneDNN's layout, as above) and only layers 10..29 record the graph. The features and every gradient
     * are bit-identical to running the whole Sequential with autograd; the saving is the prefix's layout
     * conversions and autograd bookkeeping (about 0.1 s of a 600x800 train step on 2 cores).
     *
     * <p>Under bfloat16 autocast ({@link Autocast}) the activations are channels-last (NHWC) dense tensors instead
     * of the blocked layout (oneDNN's bfloat16 convolutions take them without reorders) and the output is bfloat16.
     */
    @Override
    public Tensor extract(Tensor x) {
        boolean mixed = Autocast.isActive(x);
        x = Autocast.convLayout(x);
        boolean oneDnn = !mixed && x.dim() == 4 && !x.is_cuda() && Context.hasMKLDNN()
                && globalContext().userEnabledMkldnn();
        if (!GradMode.is_enabled()) {
            return oneDnn ? extractor.forward(x.contiguous().to_mkldnn()).to_dense() : extractor.forward(x);
        }
        if (x.requires_grad() || !prefixFrozen()) return extractor.forward(x);
        Tensor h;
        try (NoGradGuard g = new NoGradGuard()) {
            h = oneDnn ? x.contiguous().to_mkldnn() : x;
            for (int i = 0; i < FROZEN_PREFIX; i++) h = extractorLayers.get(i).apply(h);
            if (oneDnn) h = h.to_dense();
        }
        for (int i = FROZEN_PREFIX; i < extractorLayers.size(); i++) h = extractorLayers.get(i).apply(h);
        return h;
    }

    /** Whether no parameter of extractor layers 0..9 requires a gradient (the reference's frozen conv1/conv2). */
    private boolean prefixFrozen() {
        for (Conv2dImpl c : frozenPrefixConvs) {
            if (c.weight().requires_grad() || c.bias().requires_grad()) return false;
        }
        return true;
    }

    /** @return 512 */
    @Override public int featureChannels() { return FEATURE_CHANNELS; }

    /** @return 16 */
    @Override public int featureStride() { return FEATURE_STRIDE; }

    /**
     * {@inheritDoc} The classifier, a {@link SequentialImpl}: fc6, ReLU, [Dropout], fc7, ReLU, [Dropout]; it flattens
     * (R, 512, 7, 7) to (R, 25088), then fc6/fc7: (R, 4096) float32. RoI size 7.
     */
    @Override public BoxHead boxHead() {
        // (R, C*S*S); R may be 0 (no RoI)
        return BoxHead.of(classifier, pooled -> classifier.forward(pooled.flatten(1, -1)), FC_WIDTH, ROI_SIZE);
    }

    /** {@inheritDoc} */
    @Override public int minInputSide() { return MIN_INPUT_SIDE; }
}
