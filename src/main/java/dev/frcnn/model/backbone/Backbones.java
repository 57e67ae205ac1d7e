package dev.frcnn.model.backbone;

import dev.frcnn.io.ResNetKeys;
import dev.frcnn.io.StateDicts;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringSharedModuleDict;
import org.bytedeco.pytorch.StringTensorDict;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.frcnn.model.backbone.BackboneSpec.Normalisation.TORCHVISION;
import static dev.frcnn.model.backbone.BackboneSpec.Normalisation.TORCHVISION_OR_CAFFE;

/**
 * The catalogue of backbones: the one place where a backbone is named and described ({@link BackboneSpec}).
 * Adding a backbone is one class implementing {@link Backbone} and one entry here; the config check
 * ({@code backbone}, {@code caffe_pretrain}, {@code use_drop}, {@code representation_size}), {@link dev.frcnn.assembly.Detectors} and
 * the loading of pretrained weights ({@code load_path}) all read this table.
 *
 * <table>
 *   <caption>Entries</caption>
 *   <tr><th>name</th><th>class</th><th>frozen</th><th>normalisation</th><th>head width</th><th>pretrained keys</th></tr>
 *   <tr><td>{@code vgg16}</td><td>{@link VGG16Backbone}</td><td>10 (conv1_1..conv2_2)</td><td>torchvision or Caffe</td>
 *       <td>4096 (fc6/fc7)</td><td>torchvision {@code vgg16()} ({@link StateDicts#vgg16KeyToReference})</td></tr>
 *   <tr><td>{@code squeezenet1_1}</td><td>{@link SqueezeNetBackbone}</td><td>5 (conv1, fire2, fire3)</td>
 *       <td>torchvision or Caffe</td><td>1024 by default, new layers</td>
 *       <td>torchvision {@code squeezenet1_1()} ({@link SqueezeNetBackbone#pretrainedKey})</td></tr>
 *   <tr><td>{@code resnet50}, {@code resnet101}</td><td>{@link ResNetC4Backbone}</td><td>0 (the backbone freezes by {@code freeze_at}: default conv1, bn1, layer1)</td>
 *       <td>torchvision</td><td>2048 (layer4)</td><td>torchvision {@code resnet50()/resnet101()} ({@link ResNetKeys})</td></tr>
 *   <tr><td>{@code tiny}</td><td>{@link TinyBackbone}</td><td>0</td><td>any</td><td>256 by default</td><td>none</td></tr>
 * </table>
 */
public final class Backbones {
    private Backbones() {}

    private static final List<String> EXTRACTOR_AND_CLASSIFIER = List.of("extractor.", "head.classifier.");

    private static final Map<String, BackboneSpec> CATALOGUE = new LinkedHashMap<>();

    static {
        add(new BackboneSpec("vgg16", s -> new VGG16Backbone(s.useDrop()), VGG16Backbone.FROZEN_PREFIX,
                TORCHVISION_OR_CAFFE, true, 4096, true, VGG16Backbone.ROI_SIZE, true, 0, StateDicts::vgg16KeyToReference,
                EXTRACTOR_AND_CLASSIFIER, VGG16Backbone.MIN_INPUT_SIDE));
        add(new BackboneSpec("tiny", s -> new TinyBackbone(s.representationSize()), 0, TORCHVISION_OR_CAFFE,
                false, TinyBackbone.DEFAULT_WIDTH, false, TinyBackbone.ROI_SIZE, true, 0, null, List.of(),
                TinyBackbone.MIN_INPUT_SIDE));
        for (ResNetC4Backbone.Depth depth : ResNetC4Backbone.Depth.values()) {
            add(new BackboneSpec(depth.configName(), s -> new ResNetC4Backbone(depth, s.roiSize(),
                    ResNetC4Backbone.Norm.fromName(s.norm()), s.freezeAt()), 0, TORCHVISION, false,
                    ResNetC4Backbone.OUTPUT_CHANNELS, true, ResNetC4Backbone.DEFAULT_ROI_SIZE, false, 512,
                    ResNetKeys::torchvisionToModel, EXTRACTOR_AND_CLASSIFIER, ResNetC4Backbone.MIN_INPUT_SIDE));
        }
        add(new BackboneSpec("squeezenet1_1", s -> new SqueezeNetBackbone(s.representationSize(), s.frozenPrefix()), 5,
                TORCHVISION_OR_CAFFE, false, 1024, false, SqueezeNetBackbone.ROI_SIZE, true, 0,
                SqueezeNetBackbone::pretrainedKey, List.of("extractor."), SqueezeNetBackbone.MIN_INPUT_SIDE));
    }

    private static void add(BackboneSpec spec) {
        if (CATALOGUE.putIfAbsent(spec.name(), spec) != null) throw new IllegalStateException("duplicate backbone " + spec.name());
    }

    /** The backbone names, in catalogue order. */
    public static List<String> names() {
        return List.copyOf(CATALOGUE.keySet());
    }

    /**
     * @param name a {@code backbone} config value
     * @return its entry
     * @throws IllegalArgumentException naming the known backbones if there is none
     */
    public static BackboneSpec get(String name) {
        BackboneSpec s = CATALOGUE.get(name);
        if (s == null) {
            throw new IllegalArgumentException("unknown backbone '" + name + "' (known: " + String.join(", ", names()) + ")");
        }
        return s;
    }

    /**
     * Builds a backbone and freezes its prefix: the parameters of the first {@link BackboneSpec#frozenPrefix()}
     * children of its extractor get {@code requires_grad} false.
     *
     * @param spec the entry
     * @param useDrop {@code use_drop}
     * @param representationSize {@code representation_size} (0 = the entry's default)
     * @param roiSize {@code roi_size} (0 = the entry's default)
     * @param norm {@code norm} (used by the ResNets)
     * @param freezeAt {@code freeze_at} (used by the ResNets, which freeze their own stages)
     * @return the backbone, randomly initialised
     */
    public static Backbone build(BackboneSpec spec, boolean useDrop, int representationSize, int roiSize, String norm,
                                 int freezeAt) {
        Backbone b = spec.factory().build(new BackboneSpec.Settings(useDrop, spec.representationSize(representationSize),
                spec.roiSize(roiSize), spec.frozenPrefix(), norm, freezeAt));
        freezePrefix(b.extractor(), spec.frozenPrefix());
        return b;
    }

    static void freezePrefix(Module extractor, int n) {
        StringSharedModuleDict children = extractor.named_children();
        for (long i = 0; i < Math.min(n, children.size()); i++) {
            StringTensorDict ps = children.get(i).value().named_parameters(true);
            for (long j = 0; j < ps.size(); j++) ps.get(j).value().requires_grad_(false);
        }
    }
}
