package dev.frcnn.model;

import dev.frcnn.config.Config;
import dev.frcnn.model.utils.ProposalCreator;

import java.util.List;

/** Builds a {@link FasterRCNN} from a {@link Config}: the backbone, anchors and classes it names. */
public final class Detectors {
    private Detectors() {}

    /**
     * @param cfg the configuration ({@code backbone}, {@code ratios}, {@code anchor_scales}, {@code use_drop})
     * @param classNames foreground class names, in label order
     * @return a randomly initialised model (load weights afterwards)
     * @throws IllegalArgumentException if the backbone is unknown or there are no classes
     */
    public static FasterRCNN create(Config cfg, List<String> classNames) {
        if (classNames.isEmpty()) throw new IllegalArgumentException("a detector needs at least one class");
        return switch (cfg.backbone()) {
            case "vgg16" -> new FasterRCNNVGG16(classNames.size(), cfg.ratiosArray(), cfg.anchorScalesArray(),
                    cfg.useDrop(), classNames);
            case "tiny" -> {
                TinyBackbone b = new TinyBackbone();
                yield new FasterRCNN(b,
                        new RegionProposalNetwork(b.featureChannels(), b.featureChannels(), cfg.ratiosArray(),
                                cfg.anchorScalesArray(), b.featureStride(), new ProposalCreator()),
                        new VGG16RoIHead(classNames.size() + 1, b),
                        new float[]{0f, 0f, 0f, 0f}, new float[]{0.1f, 0.1f, 0.2f, 0.2f}, classNames);
            }
            default -> throw new IllegalArgumentException("unknown backbone '" + cfg.backbone() + "'");
        };
    }
}
