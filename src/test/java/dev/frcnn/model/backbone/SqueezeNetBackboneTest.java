package dev.frcnn.model.backbone;

import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.config.ConfigException;
import dev.frcnn.io.ModelWeights;
import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.rpn.RegionProposalNetwork;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.zeros;

class SqueezeNetBackboneTest {
    private static final Config CFG = Config.defaults().withOverrides(List.of("backbone=squeezenet1_1",
            "caffe_pretrain=true", "representation_size=1024"));

    /**
     * torchvision's {@code squeezenet1_1().state_dict()} layout, written out from its definition: conv1 (3 to 64,
     * 3x3) and the Fire modules (in, squeeze, expand1x1, expand3x3) at features 3, 4, 6, 7, 9, 10, 11, 12.
     */
    private static Map<String, long[]> torchvisionFeatures() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("features.0.weight", new long[]{64, 3, 3, 3});
        m.put("features.0.bias", new long[]{64});
        int[][] fires = {{3, 64, 16, 64}, {4, 128, 16, 64}, {6, 128, 32, 128}, {7, 256, 32, 128}, {9, 256, 48, 192},
                {10, 384, 48, 192}, {11, 384, 64, 256}, {12, 512, 64, 256}};
        for (int[] f : fires) {
            String p = "features." + f[0] + ".";
            m.put(p + "squeeze.weight", new long[]{f[2], f[1], 1, 1});
            m.put(p + "squeeze.bias", new long[]{f[2]});
            m.put(p + "expand1x1.weight", new long[]{f[3], f[2], 1, 1});
            m.put(p + "expand1x1.bias", new long[]{f[3]});
            m.put(p + "expand3x3.weight", new long[]{f[3], f[2], 3, 3});
            m.put(p + "expand3x3.bias", new long[]{f[3]});
        }
        return m;
    }

    private static Map<String, Tensor> fakeTorchvisionFile() {
        Map<String, Tensor> sd = new LinkedHashMap<>();
        torchvisionFeatures().forEach((k, shape) -> sd.put(k, zeros(shape).add(new org.bytedeco.pytorch.Scalar(0.5))));
        sd.put("classifier.1.weight", zeros(1000, 512, 1, 1));
        sd.put("classifier.1.bias", zeros(1000));
        return sd;
    }

    @Test
    void extractorKeysAndShapesAreTorchvisionsFeaturesUnderExtractor() {
        try (PointerScope s = new PointerScope()) {
            FasterRCNN m = Detectors.create(CFG, List.of("raccoon"));
            Map<String, long[]> got = new LinkedHashMap<>();
            StringTensorDict ps = m.named_parameters(true);
            for (long i = 0; i < ps.size(); i++) {
                String k = ps.get(i).key().getString();
                if (k.startsWith("extractor.")) got.put(k.replaceFirst("^extractor\\.", "features."), Tensors.shape(ps.get(i).value()));
            }
            Map<String, long[]> want = torchvisionFeatures();
            assertThat(got.keySet()).containsExactlyElementsOf(want.keySet());
            want.forEach((k, shape) -> assertThat(got.get(k)).as(k).containsExactly(shape));
        }
    }

    @Test
    void headIsTwoNewLayersOfTheRepresentationSizeAndTheFirstFiveModulesAreFrozen() {
        try (PointerScope s = new PointerScope()) {
            FasterRCNN m = Detectors.create(CFG.withOverrides(List.of("representation_size=256")), List.of("a", "b"));
            Map<String, Tensor> p = new LinkedHashMap<>();
            StringTensorDict ps = m.named_parameters(true);
            for (long i = 0; i < ps.size(); i++) p.put(ps.get(i).key().getString(), ps.get(i).value());
            assertThat(Tensors.shape(p.get("head.classifier.0.weight"))).containsExactly(256, 512 * 7 * 7);
            assertThat(Tensors.shape(p.get("head.classifier.2.weight"))).containsExactly(256, 256);
            assertThat(Tensors.shape(p.get("head.cls_loc.weight"))).containsExactly(12, 256);
            assertThat(Tensors.shape(p.get("head.score.weight"))).containsExactly(3, 256);
            List<String> frozen = new ArrayList<>();
            p.forEach((k, t) -> { if (!t.requires_grad()) frozen.add(k); });
            assertThat(frozen).allMatch(k -> k.matches("extractor\\.[034]\\..+")).hasSize(2 + 2 * 6);
            // PyTorch's default Linear initialisation: uniform in +-1/sqrt(fan_in) for the weight (kaiming_uniform, a=sqrt(5)).
            double bound = 1 / Math.sqrt(512 * 7 * 7);
            Tensor w = p.get("head.classifier.0.weight");
            assertThat(w.abs().max().item_double()).isLessThanOrEqualTo(bound).isGreaterThan(0.9 * bound);
        }
    }

    /** The ceil-mode pools give 37x49 at 600x800 (not 37x50), and the RPN's anchors follow the map. */
    @Test
    void featureMapAt600x800Is37x49AndAnchorsFollowIt() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            FasterRCNN m = Detectors.create(CFG, List.of("raccoon"));
            Tensor f = m.extract(zeros(1, 3, 600, 800));
            assertThat(Tensors.shape(f)).containsExactly(1, 512, 37, 49);
            m.train(false);
            RegionProposalNetwork.Output r = m.rpn().forward(f, 600, 800, 1.0);
            assertThat(Tensors.shape(r.anchor())).containsExactly(37L * 49 * 9, 4);
            assertThat(Tensors.shape(m.extract(zeros(1, 3, 224, 224)))).containsExactly(1, 512, 13, 13);
        }
    }

    /** Skipping autograd through the frozen prefix changes neither the features nor any gradient. */
    @Test
    void frozenPrefixWithoutAutogradGivesTheSameFeaturesAndGradients() {
        manual_seed(11);
        SqueezeNetBackbone skip = (SqueezeNetBackbone) Backbones.build(Backbones.get("squeezenet1_1"), false, 64, 0, "frozen_bn",
                ResNetC4Backbone.DEFAULT_FREEZE_AT);
        manual_seed(11);
        SqueezeNetBackbone full = new SqueezeNetBackbone(64, 0);
        try (PointerScope s = new PointerScope()) {
            Tensor x = randn(1, 3, 96, 128);
            Tensor a = full.extract(x), b = skip.extract(x);
            Tensor up = randn(Tensors.shape(a));
            ConvolutionBackward.backward(a.mul(up).sum());
            ConvolutionBackward.backward(b.mul(up).sum());
            assertThat(sameBits(a.detach(), b.detach())).as("features equal bit for bit").isTrue();
            StringTensorDict pa = full.extractor().named_parameters(true), pb = skip.extractor().named_parameters(true);
            int compared = 0;
            for (long i = 0; i < pa.size(); i++) {
                String k = pa.get(i).key().getString();
                Tensor gb = pb.get(i).value().grad();
                if (k.matches("[034]\\..+")) {
                    assertThat(gb.defined()).as(k + " is frozen").isFalse();
                    continue;
                }
                assertThat(sameBits(pa.get(i).value().grad(), gb)).as(k + " gradient equal bit for bit").isTrue();
                compared++;
            }
            assertThat(compared).as("trainable tensors of fire4 .. fire9").isEqualTo(6 * 6);
        }
    }

    @Test
    void pretrainedFileLoadsIntoTheExtractorAndItsClassifierIsIgnored() {
        try (PointerScope s = new PointerScope()) {
            FasterRCNN m = Detectors.create(CFG, List.of("raccoon"));
            ModelWeights.Loaded w = new ModelWeights.Loaded(fakeTorchvisionFile(), null, ModelWeights.Kind.PRETRAINED_BACKBONE, null);
            var r = Detectors.load(m, CFG, w, "sq.pth");
            assertThat(r.unexpectedKeys()).isEmpty();
            assertThat(r.missingKeys()).noneMatch(k -> k.startsWith("extractor."))
                    .contains("rpn.conv1.weight", "head.classifier.0.weight", "head.score.bias");
            StringTensorDict ps = m.named_parameters(true);
            for (long i = 0; i < ps.size(); i++) {
                if (!ps.get(i).key().getString().startsWith("extractor.")) continue;
                assertThat(ps.get(i).value().eq(new org.bytedeco.pytorch.Scalar(0.5)).all().item_bool()).isTrue();
            }
        }
    }

    @Test
    void missingAndForeignKeysAreNamed() {
        try (PointerScope s = new PointerScope()) {
            FasterRCNN m = Detectors.create(CFG, List.of("raccoon"));
            Map<String, Tensor> missing = fakeTorchvisionFile();
            missing.remove("features.12.expand3x3.bias");
            assertThatThrownBy(() -> Detectors.load(m, CFG,
                    new ModelWeights.Loaded(missing, null, ModelWeights.Kind.PRETRAINED_BACKBONE, null), "sq.pth"))
                    .isInstanceOf(WeightsMismatchException.class)
                    .hasMessageContaining("sq.pth").hasMessageContaining("Missing key(s): extractor.12.expand3x3.bias");
            Map<String, Tensor> foreign = fakeTorchvisionFile();
            foreign.put("features.13.weight", zeros(1));
            foreign.put("fc.weight", zeros(1));
            assertThatThrownBy(() -> Detectors.load(m, CFG,
                    new ModelWeights.Loaded(foreign, null, ModelWeights.Kind.PRETRAINED_BACKBONE, null), "sq.pth"))
                    .isInstanceOf(WeightsMismatchException.class)
                    .hasMessageContaining("Unexpected key(s): features.13.weight, fc.weight");
        }
    }

    @Test
    void catalogueChecksTheSettingsOfEachBackbone() {
        assertThat(Backbones.names()).containsExactly("vgg16", "tiny", "resnet50", "resnet101", "squeezenet1_1");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("representation_size=1024")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("representation_size of vgg16 is 4096");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("backbone=squeezenet1_1", "use_drop=true")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("squeezenet1_1 has no dropout");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("backbone=squeezenet1_1", "representation_size=-1")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("representation_size must be >= 0");
        assertThat(Config.defaults().withOverrides(List.of("backbone=squeezenet1_1")).caffePretrain()).isFalse();
        assertThatThrownBy(() -> Backbones.get("alexnet")).hasMessageContaining("known: vgg16, tiny, resnet50, resnet101, squeezenet1_1");
    }

    private static boolean sameBits(Tensor x, Tensor y) {
        float[] a = Tensors.toFloatArray(x.contiguous()), b = Tensors.toFloatArray(y.contiguous());
        if (a.length != b.length) return false;
        for (int i = 0; i < a.length; i++) if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) return false;
        return true;
    }
}
