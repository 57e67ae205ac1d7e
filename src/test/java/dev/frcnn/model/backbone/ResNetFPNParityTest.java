package dev.frcnn.model.backbone;

import dev.frcnn.model.GeneralizedRCNNTransform;
import dev.frcnn.model.ImageList;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.ResNetFormulaWeights;
import dev.frcnn.testing.TensorAssert;
import dev.frcnn.testing.TvFpnFixture;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parity of {@link ResNetFPNBackbone} (ResNet-50 body with FrozenBatchNorm2d, FPN with the 'pool' level) with
 * torchvision 0.14 ({@code tv_fpn_forward.json}), formula weights, on the transform's output: every level's shape,
 * sampled values ({@code max|a-b| <= 1e-5 * fpn_max_abs}) and channel sums ({@code |a-b| <= 1e-5 * chabs}), as the
 * README recommends.
 */
class ResNetFPNParityTest {
    private static final double SCALED = 1e-5;

    private static Golden g;
    private static ResNetFPNBackbone backbone;
    private static Map<String, Tensor> targets;

    @BeforeAll
    static void build() {
        g = TvFpnFixture.forward();
        backbone = new ResNetFPNBackbone(TvFpnFixture.model(g).get("frozen_bn_eps").asDouble(),
                ResNetFPNBackbone.DEFAULT_TRAINABLE_LAYERS);
        targets = TvFpnFixture.targets(backbone, "backbone.");
        List<String> skipped = ResNetFormulaWeights.fill(targets, g);
        assertThat(skipped).as("fixture entries outside the backbone").allMatch(k -> !k.startsWith("backbone."));
        backbone.eval();
    }

    @Test
    void everyBackboneEntryIsAFixtureEntry() {
        List<String> keys = ResNetFormulaWeights.entries(g).stream().map(ResNetFormulaWeights.Entry::key)
                .filter(k -> k.startsWith("backbone.")).toList();
        assertThat(targets.keySet()).containsExactlyInAnyOrderElementsOf(keys);
    }

    @Test
    void everyFpnLevelMatches() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            GeneralizedRCNNTransform t = TvFpnFixture.transform(g);
            ImageList batch = t.apply(List.of(TvFpnFixture.image(g)));
            long start = System.nanoTime();
            List<Tensor> levels = backbone.forward(batch.tensors());
            System.out.printf("backbone forward %.0f ms%n", (System.nanoTime() - start) / 1e6);
            assertThat(levels).hasSize(FeaturePyramidNetwork.LEVEL_NAMES.size());
            for (int l = 0; l < levels.size(); l++) {
                String name = FeaturePyramidNetwork.LEVEL_NAMES.get(l);
                String p = "fpn_" + name;
                Tensor x = levels.get(l);
                assertThat(Tensors.shape(x)).as(p + " shape").isEqualTo(g.longs(p + "_shape"));
                double maxAbs = g.params().path("diagnostics").path("fpn_max_abs").get(name).asDouble();
                float[] got = Tensors.toFloatArray(x.reshape(-1).index_select(0,
                        Tensors.fromLongs(g.longs(p + "_idx"), g.longs(p + "_idx").length)));
                TensorAssert.assertScaledClose(got, g.floats(p + "_val"), SCALED, maxAbs, p + "_val");
                double[] chsum = Tensors.toDoubleArray(x.get(0).to(ScalarType.Double).sum(new long[]{1, 2}, false,
                        new ScalarTypeOptional()));
                double[] wantSum = g.doubles(p + "_chsum");
                double[] chabs = g.doubles(p + "_chabs");
                double worst = 0;
                for (int c = 0; c < chsum.length; c++) {
                    assertThat(Math.abs(chsum[c] - wantSum[c])).as("%s channel %d sum", p, c)
                            .isLessThanOrEqualTo(SCALED * chabs[c]);
                    worst = Math.max(worst, Math.abs(chsum[c] - wantSum[c]) / chabs[c]);
                }
                System.out.printf("%s: worst chsum diff / chabs %.3g%n", p, worst);
            }
        }
    }

    @Test
    void trainableLayersFollowTorchvision() {
        for (int k = 0; k <= 5; k++) {
            ResNetFPNBackbone b = new ResNetFPNBackbone(0.0, k);
            List<String> on = TvFpnFixture.targets(b.body(), "").entrySet().stream()
                    .filter(e -> e.getValue().requires_grad()).map(Map.Entry::getKey).toList();
            List<String> layers = List.of("layer4", "layer3", "layer2", "layer1", "conv1").subList(0, k);
            for (String key : on) assertThat(layers.stream().anyMatch(key::startsWith)).as(key).isTrue();
            for (String layer : layers) assertThat(on).as("k=%d %s", k, layer).anyMatch(n -> n.startsWith(layer));
            assertThat(on).noneMatch(n -> n.contains("bn") || n.contains("downsample.1"));
            assertThat(TvFpnFixture.targets(b.fpn(), "").values()).allMatch(Tensor::requires_grad);
        }
    }
}
