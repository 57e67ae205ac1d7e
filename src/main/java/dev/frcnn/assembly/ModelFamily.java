package dev.frcnn.assembly;

import dev.frcnn.config.Config;
import dev.frcnn.model.GeneralizedRCNNTransform;
import dev.frcnn.model.TorchvisionCocoCategories;
import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.model.TorchvisionVariant;
import dev.frcnn.model.backbone.Backbones;

import java.util.List;

/**
 * The model families a config's {@code backbone} selects: the reference's {@link dev.frcnn.model.FasterRCNN}
 * (every {@link Backbones} entry, built by {@link Detectors#create}) or torchvision's
 * {@link TorchvisionFasterRCNN} ({@code resnet50_fpn}, {@code resnet50_fpn_v2}; inference only), each torchvision
 * family carrying its {@link TorchvisionVariant}. The one place the CLI, the API and the loader ask which family a
 * config means.
 */
public enum ModelFamily {
    /** The reference's Faster R-CNN: VGG16, tiny, the C4 ResNets, SqueezeNet. */
    REFERENCE(null),
    /** torchvision 0.14's {@code fasterrcnn_resnet50_fpn}. */
    TORCHVISION_FPN(TorchvisionVariant.RESNET50_FPN),
    /** torchvision 0.14's {@code fasterrcnn_resnet50_fpn_v2}. */
    TORCHVISION_FPN_V2(TorchvisionVariant.RESNET50_FPN_V2);

    private final TorchvisionVariant variant;

    ModelFamily(TorchvisionVariant variant) {
        this.variant = variant;
    }

    /**
     * @param cfg a validated config
     * @return the family of its {@code backbone}
     */
    public static ModelFamily of(Config cfg) {
        for (ModelFamily f : values()) {
            if (f.variant != null && f.variant.backboneName().equals(cfg.backbone())) return f;
        }
        return REFERENCE;
    }

    /** Whether this is one of torchvision's models ({@link #variant()} is set). */
    public boolean isTorchvision() { return variant != null; }

    /**
     * @return which torchvision builder this family is
     * @throws IllegalStateException for {@link #REFERENCE}
     */
    public TorchvisionVariant variant() {
        if (variant == null) throw new IllegalStateException("the reference family has no torchvision variant");
        return variant;
    }

    /**
     * The smallest resized side an input may have in this family.
     *
     * @param cfg the config ({@code backbone})
     * @return the backbone's minimum (reference) or 1 (torchvision's transform pads to a multiple of 32)
     */
    public int minInputSide(Config cfg) {
        return isTorchvision() ? 1 : Backbones.get(cfg.backbone()).minInputSide();
    }

    /**
     * The config a family runs with, from the one the user's settings made. For torchvision's families,
     * torchvision's transform sizes {@code min_size 800, max_size 1333} replace the reference's defaults
     * (600, 1000) unless the user set them: a size counts as set when the base config (a {@code --config} file)
     * has another value than the reference's default, or when the settings ({@code --set}, the API's options)
     * change it. The reference family's config is returned as it is.
     *
     * @param base the config before the user's settings
     * @param settings the user's settings
     * @return the config the model is built from
     */
    public static Config resolve(Config base, java.util.function.UnaryOperator<Config> settings) {
        Config cfg = settings.apply(base);
        if (!of(cfg).isTorchvision()) return cfg;
        Config ref = Config.defaults();
        boolean minSet = base.minSize() != ref.minSize()
                || settings.apply(base.withMinSize(base.minSize() - 1)).minSize() == cfg.minSize();
        boolean maxSet = base.maxSize() != ref.maxSize()
                || settings.apply(base.withMaxSize(base.maxSize() + 1)).maxSize() == cfg.maxSize();
        if (!minSet) cfg = cfg.withMinSize(GeneralizedRCNNTransform.DEFAULT_MIN_SIZE);
        if (!maxSet) cfg = cfg.withMaxSize(GeneralizedRCNNTransform.DEFAULT_MAX_SIZE);
        return cfg;
    }

    /**
     * The foreground class names a PyTorch weights file of this family is read with when the config names none:
     * the 20 VOC classes (reference) or torchvision's COCO categories, 'N/A' slots kept (torchvision).
     *
     * @param cfg the config ({@code class_names})
     * @return the class names
     */
    public List<String> classNames(Config cfg) {
        if (isTorchvision()) {
            return cfg.classNames().isEmpty() ? TorchvisionCocoCategories.FOREGROUND : cfg.classNames();
        }
        return cfg.classNamesOrVoc();
    }
}
