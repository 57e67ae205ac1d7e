package dev.frcnn.model.backbone;

import dev.frcnn.model.utils.ChildModules;
import dev.frcnn.model.roi.BoxHead;
import dev.frcnn.tensor.Autocast;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.GroupNormImpl;
import org.bytedeco.pytorch.GroupNormOptions;
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

import static org.bytedeco.pytorch.global.torch.*;

/**
 * A small VGG-style backbone for the demo, trained from scratch on CPU in minutes: five 3x3 conv stages
 * ({@code 32, 64, 128, 128, 128} channels, each conv followed by GroupNorm(8) and ReLU; 2x2 max-pools after
 * the first four, so stride 16 as VGG16), and a classifier of two fully connected layers
 * ({@code 128*7*7 -> 256 -> 256} by default, ReLU) on 7x7 pooled RoIs at 1/16.
 *
 * <p>Why GroupNorm: there are no pretrained weights to start from, batches hold one image (as in the
 * reference), and BatchNorm's statistics would differ between training and evaluation; GroupNorm normalises
 * each image on its own, the same in both modes. Everything else (RPN, creators, head, trainer) is the
 * reference's, unchanged.
 */
public final class TinyBackbone implements Backbone {
    private static final int[] CHANNELS = {32, 64, 128, 128, 128};
    private static final int FEATURE_STRIDE = 16;
    /** Height and width of the pooled RoI features its fc6 flattens. */
    public static final int ROI_SIZE = 7;
    /** Smallest input side: its four 2x2 max pools (floor) need 16 pixels for a 1-pixel map. */
    public static final int MIN_INPUT_SIDE = 16;
    /** Default width of the two fully connected layers. */
    public static final int DEFAULT_WIDTH = 256;

    private final SequentialImpl extractor = new SequentialImpl();
    private final SequentialImpl classifier = new SequentialImpl();
    private final int width;
    /** Strong references: JavaCPP frees a module when its Java wrapper is collected, even inside a Sequential. */
    private final ChildModules children = new ChildModules();

    /** A randomly initialised tiny backbone with {@value #DEFAULT_WIDTH}-wide fully connected layers. */
    public TinyBackbone() {
        this(DEFAULT_WIDTH);
    }

    /**
     * A randomly initialised tiny backbone (convs: Kaiming normal, fan-out; linears: Kaiming uniform; biases 0).
     *
     * @param width width of the two fully connected layers (the representation size)
     */
    public TinyBackbone(int width) {
        if (width < 1) throw new IllegalArgumentException("width must be > 0, got " + width);
        this.width = width;
        int in = 3;
        List<Conv2dImpl> convs = new ArrayList<>();
        for (int i = 0; i < CHANNELS.length; i++) {
            Conv2dOptions o = new Conv2dOptions(in, CHANNELS[i], new LongPointer(3L, 3L));
            o.padding().put(new LongPointer(1L, 1L));
            Conv2dImpl conv = children.keep(new Conv2dImpl(o));
            convs.add(conv);
            extractor.push_back(conv);
            extractor.push_back(children.keep(new GroupNormImpl(new GroupNormOptions(8, CHANNELS[i]))));
            extractor.push_back(children.keep(new ReLUImpl(new ReLUOptions(true))));
            if (i < 4) extractor.push_back(children.keep(new MaxPool2dImpl(new MaxPool2dOptions(new LongPointer(2L, 2L)))));
            in = CHANNELS[i];
        }
        LinearImpl fc6 = children.keep(new LinearImpl((long) in * ROI_SIZE * ROI_SIZE, width));
        LinearImpl fc7 = children.keep(new LinearImpl(width, width));
        classifier.push_back(fc6);
        classifier.push_back(children.keep(new ReLUImpl()));
        classifier.push_back(fc7);
        classifier.push_back(children.keep(new ReLUImpl()));
        try (NoGradGuard g = new NoGradGuard()) {
            for (Conv2dImpl c : convs) {
                kaiming_normal_(c.weight(), 0.0, new org.bytedeco.pytorch.FanModeType(new org.bytedeco.pytorch.kFanOut()), new org.bytedeco.pytorch.Nonlinearity(new org.bytedeco.pytorch.kReLU()));
                c.bias().zero_();
            }
            for (LinearImpl l : List.of(fc6, fc7)) {
                kaiming_uniform_(l.weight(), Math.sqrt(5.0), new org.bytedeco.pytorch.FanModeType(new org.bytedeco.pytorch.kFanIn()), new org.bytedeco.pytorch.Nonlinearity(new org.bytedeco.pytorch.kLeakyReLU()));
                l.bias().zero_();
            }
        }
    }


    @Override public Module extractor() { return extractor; }

    /** {@inheritDoc} Channels-last under bfloat16 autocast ({@link Autocast#convLayout}). */
    @Override public Tensor extract(Tensor x) { return extractor.forward(Autocast.convLayout(x)); }

    @Override public int featureChannels() { return CHANNELS[CHANNELS.length - 1]; }

    @Override public int featureStride() { return FEATURE_STRIDE; }

    /** {@inheritDoc} Two fully connected layers of the representation size on the flattened pooled features. */
    @Override public BoxHead boxHead() {
        return BoxHead.of(classifier, pooled -> classifier.forward(pooled.flatten(1, -1)), width, ROI_SIZE);
    }

    /** {@inheritDoc} */
    @Override public int minInputSide() { return MIN_INPUT_SIDE; }
}
