package dev.frcnn.io;


import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Key mapping between torchvision's {@code resnet50()/resnet101()} state dicts and the ResNet-C4 Faster R-CNN
 * ({@code dev.frcnn.model.backbone.ResNetC4Backbone}), whose modules keep torchvision's names under two prefixes:
 * <ul>
 *   <li>{@code layer4.*} becomes {@code head.classifier.layer4.*} (the RoI head's classifier);</li>
 *   <li>{@code conv1.*}, {@code bn1.*}, {@code layer1.*}, {@code layer2.*}, {@code layer3.*} become
 *       {@code extractor.*} (the trunk);</li>
 *   <li>{@code fc.*} (the ImageNet classifier) is dropped.</li>
 * </ul>
 * BatchNorm entries keep their names ({@code weight, bias, running_mean, running_var, num_batches_tracked}); the
 * model's frozen BatchNorms register all five, so the mapped dict loads strictly with {@link WeightLoader}. The
 * RPN and the head's {@code cls_loc}/{@code score} layers have no torchvision counterpart and stay as initialised.
 */
public final class ResNetKeys {
    private ResNetKeys() {}

    private static final Pattern TRUNK = Pattern.compile("(conv1|bn1|layer[123])\\..+");
    private static final Pattern HEAD = Pattern.compile("layer4\\..+");
    private static final Pattern FC = Pattern.compile("fc\\.(weight|bias)");
    private static final String EXTRACTOR = "extractor.";
    private static final String CLASSIFIER = "head.classifier.";

    /**
     * The model key for one torchvision ResNet key.
     *
     * @param key a torchvision resnet50/resnet101 key, e.g. {@code layer4.0.downsample.1.running_var}
     * @return the model key ({@code head.classifier.layer4.0.downsample.1.running_var}), or empty for {@code fc.*}
     * @throws WeightsMismatchException if {@code key} cannot be a torchvision ResNet key
     */
    public static Optional<String> torchvisionToModel(String key) {
        if (key != null) {
            if (HEAD.matcher(key).matches()) return Optional.of(CLASSIFIER + key);
            if (TRUNK.matcher(key).matches()) return Optional.of(EXTRACTOR + key);
            if (FC.matcher(key).matches()) return Optional.empty();
        }
        throw new WeightsMismatchException("the ResNet-C4 detector (from torchvision resnet keys)", List.of(),
                List.of(String.valueOf(key)), List.of());
    }

    /**
     * The torchvision key of one model key of the ResNet backbone (inverse of {@link #torchvisionToModel(String)}).
     *
     * @param modelKey e.g. {@code extractor.layer1.0.conv1.weight} or {@code head.classifier.layer4.2.bn3.bias}
     * @return the torchvision key, or empty for keys without a torchvision counterpart ({@code rpn.*},
     *     {@code head.cls_loc.*}, {@code head.score.*})
     */
    public static Optional<String> modelToTorchvision(String modelKey) {
        if (modelKey.startsWith(CLASSIFIER)) {
            String k = modelKey.substring(CLASSIFIER.length());
            if (HEAD.matcher(k).matches()) return Optional.of(k);
        } else if (modelKey.startsWith(EXTRACTOR)) {
            String k = modelKey.substring(EXTRACTOR.length());
            if (TRUNK.matcher(k).matches()) return Optional.of(k);
        }
        return Optional.empty();
    }
}
