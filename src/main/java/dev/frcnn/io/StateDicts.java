package dev.frcnn.io;

import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Helpers over state dicts read by {@link PthReader}: finding the state dict inside a file's object tree, and
 * the reference's name for each key of torchvision's VGG16 (used by the {@code vgg16} entry of
 * {@code dev.frcnn.model.backbone.Backbones}).
 */
public final class StateDicts {
    private StateDicts() {}

    /** Number of {@code features} layers the reference keeps as its extractor (conv5_3's ReLU is layer 29). */
    static final int VGG16_EXTRACTOR_LAYERS = 30;

    private static final Pattern FEATURES = Pattern.compile("features\\.(\\d+)\\.(.+)");
    private static final Pattern CLASSIFIER = Pattern.compile("classifier\\.(\\d+)\\.(.+)");

    /**
     * The state dict held by a file's root object. Accepts a plain state dict ({@code str -> tensor}, as
     * written by {@code torch.save(model.state_dict())}) or the reference's trained checkpoint
     * ({@code trainer.save()}: a dict whose {@code model} entry is the state dict; the other entries such as
     * {@code config}, {@code optimizer}, {@code other_info} and {@code vis_info} are ignored).
     *
     * @param root what {@link PthReader#read(Path)} returned
     * @param file the file it came from (for the message)
     * @return a new map, parameter/buffer name to tensor, in file order
     * @throws WeightsFormatException if {@code root} is neither, with a description of what it is instead
     */
    public static Map<String, Tensor> stateDict(Object root, Path file) throws WeightsFormatException {
        Map<String, Tensor> sd = asTensorMap(root);
        if (sd != null) return sd;
        if (root instanceof Map<?, ?> m && m.containsKey("model")) {
            sd = asTensorMap(m.get("model"));
            if (sd != null) return sd;
            throw new WeightsFormatException(file, "checkpoint entry 'model' is not a state dict (str -> tensor): "
                    + why(m.get("model")));
        }
        throw new WeightsFormatException(file, "expected a state dict (str -> tensor) or a checkpoint dict with a "
                + "'model' entry, but found " + why(root));
    }

    private static Map<String, Tensor> asTensorMap(Object o) {
        if (!(o instanceof Map<?, ?> m)) return null;
        Map<String, Tensor> r = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getKey() instanceof String k) || !(e.getValue() instanceof Tensor t)) return null;
            r.put(k, t);
        }
        return r;
    }

    private static String why(Object o) {
        if (!(o instanceof Map<?, ?> m)) return "a " + RestrictedUnpickler.typeName(o);
        List<String> keys = new ArrayList<>();
        String bad = null;
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (keys.size() < 10) keys.add(String.valueOf(e.getKey()));
            if (bad == null && (!(e.getKey() instanceof String) || !(e.getValue() instanceof Tensor))) {
                bad = "entry " + describeKey(e.getKey()) + " is a " + RestrictedUnpickler.typeName(e.getValue());
            }
        }
        return "a dict with keys " + keys + (m.size() > 10 ? " ... (" + m.size() + " in all)" : "")
                + (bad != null ? "; " + bad : "");
    }

    private static String describeKey(Object k) {
        return k instanceof String s ? "'" + s + "'" : RestrictedUnpickler.typeName(k) + " " + k;
    }

    /**
     * The reference's name for one key of torchvision's {@code vgg16().state_dict()}, as
     * {@code model/faster_rcnn_vgg16.decom_vgg16} builds it: {@code features.<i>.*} becomes
     * {@code extractor.<i>.*} for {@code i < 30}; {@code classifier.0.*} (fc6) becomes
     * {@code head.classifier.0.*} and {@code classifier.3.*} (fc7) becomes {@code head.classifier.2.*} (the
     * dropouts are removed); {@code classifier.6.*} (the ImageNet classifier) is dropped (empty result).
     *
     * @param key a torchvision VGG16 key, e.g. {@code features.28.weight}
     * @return the reference key, or empty if the reference drops this parameter
     * @throws WeightsMismatchException if {@code key} is not a key of torchvision's VGG16
     */
    public static Optional<String> vgg16KeyToReference(String key) {
        Matcher f = FEATURES.matcher(key);
        if (f.matches() && parse(f.group(1)) < VGG16_EXTRACTOR_LAYERS) {
            return Optional.of("extractor." + f.group(1) + "." + f.group(2));
        }
        Matcher c = CLASSIFIER.matcher(key);
        if (c.matches()) {
            switch (c.group(1)) {
                case "0": return Optional.of("head.classifier.0." + c.group(2));
                case "3": return Optional.of("head.classifier.2." + c.group(2));
                case "6": return Optional.empty();
                default: break;
            }
        }
        throw new WeightsMismatchException("the reference's VGG16 (from torchvision vgg16 keys)", List.of(),
                List.of(key), List.of());
    }

    private static long parse(String digits) {
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }
}
