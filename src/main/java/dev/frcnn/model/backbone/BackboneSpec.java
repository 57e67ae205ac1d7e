package dev.frcnn.model.backbone;

import dev.frcnn.io.WeightsMismatchException;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything the rest of the project needs to know about one backbone, as one entry of {@link Backbones}: its
 * config name, how to build it, how many leading extractor modules are frozen, the input normalisation its
 * pretrained weights expect, the width of its RoI head, and how the keys of its pretrained (ImageNet) state dict
 * map to the detector's keys.
 *
 * @param name the {@code backbone} config value
 * @param factory builds a randomly initialised backbone
 * @param frozenPrefix number of leading children of {@link Backbone#extractor()} whose parameters are frozen
 *     ({@code requires_grad} false), as the reference freezes VGG16's conv1/conv2
 * @param normalisation which {@code caffe_pretrain} values the backbone's pretrained weights allow
 * @param dropout whether {@code use_drop} applies (VGG16's fc6/fc7 only)
 * @param defaultRepresentationSize the RoI head width used when {@code representation_size} is 0
 * @param representationSizeFixed whether only the default width is possible (the classifier comes pretrained)
 * @param defaultRoiSize the pooled RoI size used when {@code roi_size} is 0 (what the built backbone's {@code boxHead().roiSize()} returns)
 * @param roiSizeFixed whether only the default RoI size is possible (the head flattens the pooled features into a
 *     fully connected layer of fixed input width)
 * @param rpnMidChannels channels of the RPN's 3x3 conv; 0 = the feature channels (the reference's 512 -> 512)
 * @param pretrainedKeys the detector key of one key of the backbone's pretrained state dict (empty = not used,
 *     e.g. the ImageNet classifier); throws {@link WeightsMismatchException} for a key the file cannot have;
 *     null if there are no pretrained weights for this backbone
 * @param pretrainedPrefixes detector key prefixes that a pretrained file must fill completely (its missing keys
 *     are an error); the others (RPN, new layers) keep their initialisation
 * @param minInputSide the built backbone's {@link Backbone#minInputSide()}, known before it is built
 */
public record BackboneSpec(String name, Factory factory, int frozenPrefix, Normalisation normalisation,
                           boolean dropout, int defaultRepresentationSize, boolean representationSizeFixed,
                           int defaultRoiSize, boolean roiSizeFixed, int rpnMidChannels, PretrainedKeys pretrainedKeys, List<String> pretrainedPrefixes,
                           int minInputSide) {

    /** Builds the backbone. */
    @FunctionalInterface
    public interface Factory {
        /**
         * @param settings the config's settings for the backbone, defaults resolved
         * @return a randomly initialised backbone
         */
        Backbone build(Settings settings);
    }

    /**
     * The settings a {@link Factory} builds from.
     *
     * @param useDrop the {@code use_drop} setting (only for backbones with {@code dropout})
     * @param representationSize the RoI head width (the default when the config says 0)
     * @param roiSize the pooled RoI size (the default when the config says 0)
     * @param frozenPrefix {@link BackboneSpec#frozenPrefix()}
     * @param norm the {@code norm} setting ({@code frozen_bn}, {@code group_norm}; ResNets only)
     * @param freezeAt the {@code freeze_at} setting (ResNets only)
     */
    public record Settings(boolean useDrop, int representationSize, int roiSize, int frozenPrefix, String norm,
                           int freezeAt) {}

    /** Maps one pretrained key. */
    @FunctionalInterface
    public interface PretrainedKeys {
        /**
         * @param fileKey a key of the pretrained state dict
         * @return the detector key, or empty if the detector has no such parameter
         * @throws WeightsMismatchException if the key cannot be one of this backbone's pretrained keys
         */
        Optional<String> toModel(String fileKey);
    }

    /** The input normalisations a backbone's pretrained weights come with. */
    public enum Normalisation {
        /** torchvision's RGB mean/std, or the Caffe conversion ({@code caffe_pretrain: true}). */
        TORCHVISION_OR_CAFFE,
        /** torchvision's RGB mean/std only ({@code caffe_pretrain} must be false). */
        TORCHVISION
    }

    /** Largest accepted {@code roi_size}. */
    public static final int MAX_ROI_SIZE = 64;

    public BackboneSpec {
        pretrainedPrefixes = List.copyOf(pretrainedPrefixes);
    }

    /**
     * The problems of a combination of settings for this backbone.
     *
     * @param caffePretrain {@code caffe_pretrain}
     * @param useDrop {@code use_drop}
     * @param representationSize {@code representation_size} (0 = the default)
     * @param roiSize {@code roi_size} (0 = the default)
     * @return messages naming the config keys; empty if the settings fit
     */
    public List<String> check(boolean caffePretrain, boolean useDrop, int representationSize, int roiSize) {
        List<String> errors = new ArrayList<>();
        if (caffePretrain && normalisation == Normalisation.TORCHVISION) {
            errors.add("caffe_pretrain must be false for " + name + " (torchvision weights, torchvision normalisation)");
        }
        if (useDrop && !dropout) errors.add("use_drop applies to vgg16's fc6/fc7 only; " + name + " has no dropout");
        if (representationSize < 0) errors.add("representation_size must be >= 0 (0 = the backbone's default), got " + representationSize);
        if (representationSize > 0 && representationSizeFixed && representationSize != defaultRepresentationSize) {
            errors.add("representation_size of " + name + " is " + defaultRepresentationSize + " (its pretrained "
                    + "classifier), got " + representationSize);
        }
        if (roiSize < 0 || roiSize > MAX_ROI_SIZE) {
            errors.add("roi_size must be in [0, " + MAX_ROI_SIZE + "] (0 = the backbone's default), got " + roiSize);
        } else if (roiSize > 0 && roiSizeFixed && roiSize != defaultRoiSize) {
            errors.add("roi_size of " + name + " is " + defaultRoiSize + " (its head's fully connected input), got "
                    + roiSize);
        }
        return errors;
    }

    /** The pooled RoI size used for a {@code roi_size} setting (0 = the default). */
    public int roiSize(int setting) {
        return setting == 0 ? defaultRoiSize : setting;
    }

    /** The width used for a {@code representation_size} setting (0 = the default). */
    public int representationSize(int setting) {
        return setting == 0 ? defaultRepresentationSize : setting;
    }

    /**
     * Renames a pretrained state dict of this backbone to the detector's keys (tensors are not copied).
     *
     * @param fileSd the file's key to tensor
     * @param what the file, for messages
     * @return detector key to tensor, in the file's order, without the keys the detector does not use
     * @throws WeightsMismatchException listing every key that this backbone's pretrained files cannot have, or if
     *     the backbone has no pretrained weights
     */
    public Map<String, Tensor> toModel(Map<String, Tensor> fileSd, String what) {
        if (pretrainedKeys == null) {
            throw new WeightsMismatchException(what + ": backbone " + name + " has no pretrained weights to load",
                    List.of(), List.copyOf(fileSd.keySet()), List.of());
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<String> unexpected = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : fileSd.entrySet()) {
            try {
                pretrainedKeys.toModel(e.getKey()).ifPresent(k -> out.put(k, e.getValue()));
            } catch (WeightsMismatchException ex) {
                unexpected.add(e.getKey());
            }
        }
        if (!unexpected.isEmpty()) {
            throw new WeightsMismatchException(what + ": not a pretrained " + name + " state dict", List.of(),
                    unexpected, List.of());
        }
        return out;
    }
}
