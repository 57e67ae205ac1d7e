package dev.frcnn.model.backbone;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.ops.RoIAlign;
import dev.frcnn.ops.RoIPool;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.ResNetFormulaWeights;
import dev.frcnn.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parity of {@link ResNetC4Backbone} (ResNet-50) with {@code resnet_c4.json}: torchvision resnet50 in eval mode with
 * the fixture's formula weights. The trunk is tested on the fixture's input; each head (RoIPool and RoIAlign 14x14
 * at 1/16, then layer4 and the mean over H, W) from the stored {@code trunk_output} and {@code rois}, so that trunk
 * differences do not add up. Tolerances are the README's ({@code max|a-b| <= 1e-5 * max|b|}; one layer4 channel
 * 5e-5).
 */
class ResNetC4ParityTest {
    private static final String FIXTURE = "resnet_c4.json";
    private static final double SCALED = 1e-5;
    private static final double CHANNEL0 = 5e-5;

    private static Golden g;
    private static ResNetC4Backbone backbone;
    private static Map<String, Tensor> targets;

    @BeforeAll
    static void build() {
        g = Golden.load(FIXTURE);
        int pooled = g.params().get("pooled_size").get(0).asInt();
        assertThat(pooled).isEqualTo(ResNetC4Backbone.DEFAULT_ROI_SIZE);
        backbone = new ResNetC4Backbone(ResNetC4Backbone.Depth.RESNET50);
        targets = new LinkedHashMap<>();
        collect(backbone.trunk(), targets);
        collect(backbone.top(), targets);
        List<String> skipped = ResNetFormulaWeights.fill(targets, g);
        assertThat(skipped).as("fixture entries without a model tensor").allMatch(k -> k.startsWith("fc."));
        backbone.trunk().eval();
        backbone.top().eval();
    }

    /**
     * torchvision key (the trunk's and layer4's own names are torchvision's) to parameter or buffer. The values are
     * owning handles ({@code new Tensor(t)}): the dict's entries are references that die with the dict.
     */
    private static void collect(Module m, Map<String, Tensor> out) {
        StringTensorDict p = m.named_parameters(true);
        for (long i = 0; i < p.size(); i++) out.put(p.get(i).key().getString(), new Tensor(p.get(i).value()));
        StringTensorDict b = m.named_buffers(true);
        for (long i = 0; i < b.size(); i++) out.put(b.get(i).key().getString(), new Tensor(b.get(i).value()));
    }

    private static Tensor rois() {
        return g.tensor("rois");
    }

    @Test
    void formulaWeightsReproduceEveryParamSample() {
        List<ResNetFormulaWeights.Entry> entries = ResNetFormulaWeights.entries(g);
        long[] ks = g.longs("param_sample_k");
        long[] is = g.longs("param_sample_i");
        float[] vs = g.floats("param_sample_value");
        assertThat(ks.length).isPositive().isEqualTo(is.length).isEqualTo(vs.length);
        int inModel = 0;
        try (PointerScope s = new PointerScope()) {
            for (int j = 0; j < ks.length; j++) {
                ResNetFormulaWeights.Entry e = entries.get((int) ks[j]);
                assertThat(ResNetFormulaWeights.value(e, is[j])).as("formula %s[%d]", e.key(), is[j]).isEqualTo(vs[j]);
                Tensor t = targets.get(e.key());
                if (t == null) continue;   // fc.* is not part of the detector
                assertThat(t.reshape(-1).get(is[j]).item_float()).as("model %s[%d]", e.key(), is[j]).isEqualTo(vs[j]);
                inModel++;
            }
        }
        assertThat(inModel).isPositive();
    }

    @Test
    void trunkOutputAndStageMeansMatch() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            ResNetC4Backbone.Trunk trunk = backbone.trunk();
            Tensor stem = trunk.stem(g.tensor("input"));
            TensorAssert.assertScaledClose(stem.mean(0, 2, 3), g.floats("stem_output_channel_mean"), SCALED, 0,
                    "stem_output_channel_mean");
            Tensor l1 = trunk.layer(1).forward(stem);
            TensorAssert.assertScaledClose(l1.mean(0, 2, 3), g.floats("layer1_output_channel_mean"), SCALED, 0,
                    "layer1_output_channel_mean");
            Tensor l2 = trunk.layer(2).forward(l1);
            TensorAssert.assertScaledClose(l2.mean(0, 2, 3), g.floats("layer2_output_channel_mean"), SCALED, 0,
                    "layer2_output_channel_mean");
            Tensor out = trunk.layer(3).forward(l2);
            TensorAssert.assertShape(out, g.shape("trunk_output"), "trunk_output");
            TensorAssert.assertScaledClose(out, g.floats("trunk_output"), SCALED, 0, "trunk_output");
        }
    }

    private void checkHead(String op, Tensor pooled) {
        TensorAssert.assertScaledClose(pooled.mean(2, 3), g.floats(op + "_pooled_mean"), SCALED, 0, op + "_pooled_mean");
        Tensor l4 = backbone.top().layer4().forward(pooled);
        TensorAssert.assertScaledClose(l4.select(1, 0), g.floats(op + "_layer4_channel0"), CHANNEL0, 0,
                op + "_layer4_channel0");
        Tensor head = backbone.boxHead().forward(pooled);
        TensorAssert.assertShape(head, g.shape(op + "_head_output"), op + "_head_output");
        TensorAssert.assertScaledClose(head, g.floats(op + "_head_output"), SCALED, 0, op + "_head_output");
    }

    @Test
    void headWithRoIPoolMatches() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            int size = g.params().get("pooled_size").get(0).asInt();
            RoIPool pool = new RoIPool(size, g.params().get("pooled_size").get(1).asInt(),
                    g.params().get("spatial_scale").asDouble());
            checkHead("roi_pool", pool.forward(g.tensor("trunk_output"), rois()));
        }
    }

    @Test
    void headWithRoIAlignMatches() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            JsonNode ra = g.params().get("roi_align");
            RoIAlign align = new RoIAlign(g.params().get("pooled_size").get(0).asInt(),
                    g.params().get("pooled_size").get(1).asInt(), g.params().get("spatial_scale").asDouble(),
                    ra.get("sampling_ratio").asInt(), ra.get("aligned").asBoolean());
            checkHead("roi_align", align.forward(g.tensor("trunk_output"), rois()));
        }
    }
}
