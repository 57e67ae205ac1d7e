package dev.frcnn.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.io.StateDictFiles;
import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.model.rpn.MultiLevelRegionProposalNetwork;
import dev.frcnn.model.rpn.RPNHead;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.ResNetFormulaWeights;
import dev.frcnn.testing.TensorAssert;
import dev.frcnn.testing.TvFpnFixture;
import dev.frcnn.testing.TvFpnModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * Parity of {@link TorchvisionFasterRCNN} with torchvision 0.14's {@code fasterrcnn_resnet50_fpn}
 * ({@code tv_fpn_forward.json}, {@code tv_fpn_keys.json}): state_dict keys and shapes (the COCO checkpoint layout, in
 * order), formula-weight samples, the RPN head's outputs on the model's FPN levels ({@code 2e-5 * max|b|}), the
 * proposals end to end (set overlap &gt;= 98 %, matched boxes atol 1e-3 px), the detections end to end (the README's
 * per-label set match: boxes atol 2e-3 px, scores atol 2e-5) and the loading of torchvision state dicts (in memory,
 * and a torchvision-layout {@code .pth} file in the slow profile).
 */
class TorchvisionFasterRCNNParityTest {
    private static final double RPN_SCALED = 2e-5;
    private static final double BOX_ATOL = 2e-3;
    private static final double SCORE_ATOL = 2e-5;

    private static Golden g;
    private static TorchvisionFasterRCNN model;

    @BeforeAll
    static void build() {
        g = TvFpnFixture.forward();
        model = TvFpnModels.model();
    }

    private static List<String> layoutKeys(String layout) {
        List<String> keys = new ArrayList<>();
        for (JsonNode e : Golden.load(TvFpnFixture.KEYS).params().get(layout)) {
            keys.add(e.isTextual() ? e.asText() : e.get(0).asText());
        }
        return keys;
    }

    @Test
    void stateDictKeysAndShapesAreTorchvisions() {
        JsonNode layout = Golden.load(TvFpnFixture.KEYS).params().get("fasterrcnn_resnet50_fpn_checkpoint_layout");
        assertThat(model.stateDictKeys()).containsExactlyElementsOf(layoutKeys("fasterrcnn_resnet50_fpn_checkpoint_layout"));
        Map<String, Tensor> targets = TvFpnFixture.targets(model, "");
        for (JsonNode e : layout) {
            long[] shape = new long[e.get(1).size()];
            for (int i = 0; i < shape.length; i++) shape[i] = e.get(1).get(i).asLong();
            assertThat(Tensors.shape(targets.get(e.get(0).asText()))).as(e.get(0).asText()).isEqualTo(shape);
        }
    }

    @Test
    void formulaWeightsReproduceEveryParamSample() {
        List<ResNetFormulaWeights.Entry> entries = ResNetFormulaWeights.entries(g);
        Map<String, Tensor> targets = TvFpnFixture.targets(model, "");
        long[] ks = g.longs("param_sample_k");
        long[] is = g.longs("param_sample_i");
        float[] vs = g.floats("param_sample_value");
        assertThat(ks.length).isPositive();
        try (PointerScope s = new PointerScope()) {
            for (int j = 0; j < ks.length; j++) {
                ResNetFormulaWeights.Entry e = entries.get((int) ks[j]);
                assertThat(ResNetFormulaWeights.value(e, is[j])).as("formula %s[%d]", e.key(), is[j]).isEqualTo(vs[j]);
                assertThat(targets.get(e.key()).reshape(-1).get(is[j]).item_float()).as("model %s[%d]", e.key(), is[j])
                        .isEqualTo(vs[j]);
            }
        }
    }

    @Test
    void rpnHeadOutputsAndProposalsMatch() {
        TvFpnModels.Features f = TvFpnModels.features();
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            RPNHead.Output head = model.rpn().head().forward(f.levels());
            double maxObj = maxAbs(g.floats("rpn_objectness_flat"));
            double maxDelta = maxAbs(g.floats("rpn_deltas_flat"));
            for (int l = 0; l < f.levels().size(); l++) {
                checkSampled(head.objectness().get(l), "rpn_objectness_" + l, maxObj);
                checkSampled(head.deltas().get(l), "rpn_deltas_" + l, maxDelta);
            }
            Tensor[] flat = MultiLevelRegionProposalNetwork.concatBoxPredictionLayers(head.objectness(), head.deltas());
            TensorAssert.assertScaledClose(flat[0], g.floats("rpn_objectness_flat"), RPN_SCALED, maxObj, "objectness flat");
            TensorAssert.assertScaledClose(flat[1], g.floats("rpn_deltas_flat"), RPN_SCALED, maxDelta, "deltas flat");

            MultiLevelRegionProposalNetwork.Output out = model.rpn().forward(f.batch().tensors(), dev.frcnn.model.TorchvisionFasterRCNN.hw(f.batch().imageSizes()),
                    f.levels());
            MultiLevelRegionProposalNetwork.Proposals p = out.proposals().get(0);
            long[] src = Tensors.toLongArray(p.anchorIndex());
            long[] want = g.longs("proposal_anchor_index");
            float[] boxes = Tensors.toFloatArray(p.boxes());
            float[] wantBoxes = g.floats("proposals");
            Map<Long, Integer> at = new HashMap<>();
            for (int i = 0; i < src.length; i++) at.put(src[i], i);
            int matched = 0;
            for (int j = 0; j < want.length; j++) {
                Integer i = at.get(want[j]);
                if (i == null) continue;
                matched++;
                for (int c = 0; c < 4; c++) {
                    assertThat((double) Math.abs(boxes[4 * i + c] - wantBoxes[4 * j + c])).as("proposal %d", j)
                            .isLessThanOrEqualTo(1e-3);
                }
            }
            assertThat(src.length).isEqualTo(want.length);
            assertThat(matched).as("proposals matched").isGreaterThanOrEqualTo((int) Math.ceil(0.98 * want.length));
        }
    }

    private static double maxAbs(float[] v) {
        double m = 0;
        for (float x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    private static void checkSampled(Tensor t, String name, double maxRef) {
        assertThat(Tensors.shape(t)).as(name + " shape").isEqualTo(g.longs(name + "_shape"));
        long[] idx = g.longs(name + "_idx");
        TensorAssert.assertScaledClose(t.reshape(-1).index_select(0, Tensors.fromLongs(idx, idx.length)),
                g.floats(name + "_val"), RPN_SCALED, maxRef, name);
    }

    @Test
    void detectionsEndToEndMatch() {
        try (PointerScope s = new PointerScope()) {
            Tensor image = TvFpnFixture.image(g);
            long start = System.nanoTime();
            TorchvisionFasterRCNN.Result r = model.forward(List.of(image)).get(0);
            System.out.printf("TorchvisionFasterRCNN.forward %.0f ms%n", (System.nanoTime() - start) / 1e6);
            float[] boxes = Tensors.toFloatArray(r.boxes());
            float[] scores = Tensors.toFloatArray(r.scores());
            long[] labels = Tensors.toLongArray(r.labels());
            TvFpnFixture.assertDetectionsMatch(r.boxes(), r.scores(), r.labels(), g.floats("det_boxes"),
                    g.floats("det_scores"), g.longs("det_labels"), BOX_ATOL, SCORE_ATOL);

            // The public records: (ymin, xmin, ymax, xmax) = (y1, x1, y2, x2), classIndex = label - 1.
            List<Detection> dets = model.toDetections(r);
            assertThat(dets).hasSize(labels.length);
            for (int i = 0; i < dets.size(); i++) {
                Detection d = dets.get(i);
                assertThat(new float[]{d.xmin(), d.ymin(), d.xmax(), d.ymax()})
                        .containsExactly(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]);
                assertThat(d.classIndex()).isEqualTo(labels[i] - 1);
                assertThat(d.label()).isEqualTo(model.classNames().get(d.classIndex()));
                assertThat(d.score()).isEqualTo(scores[i]);
            }
        }
    }

    @Test
    void torchvisionStateDictsLoadWithOrWithoutNumBatchesTracked() {
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> sd = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : TvFpnFixture.targets(model, "").entrySet()) {
                sd.put(e.getKey(), e.getValue().clone());
            }
            for (String k : layoutKeys("fasterrcnn_resnet50_fpn_weights_none_extra_keys")) {
                sd.put(k, zeros(new long[]{}, new org.bytedeco.pytorch.TensorOptions(
                        org.bytedeco.pytorch.global.torch.ScalarType.Long)));
            }
            TorchvisionFasterRCNN other = TvFpnModels.build(g);
            Tensor w = TvFpnFixture.targets(other, "").get("roi_heads.box_predictor.cls_score.weight");
            try (NoGradGuard ng = new NoGradGuard()) {
                w.zero_();
            }
            other.loadStateDict(sd, "in-memory");
            assertThat(w.equal(sd.get("roi_heads.box_predictor.cls_score.weight"))).isTrue();
        }
    }

    /** A 167 MB file written and read back (about 10 s on 2 busy cores): in the slow profile. */
    @Test
    @Tag("slow")
    void aTorchvisionPthFileLoadsAsItIs(@TempDir Path dir) throws Exception {
        Path file;
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> targets = TvFpnFixture.targets(model, "");
            Map<String, Tensor> sd = new LinkedHashMap<>();
            for (String k : model.stateDictKeys()) sd.put(k, targets.get(k));
            file = StateDictFiles.writeTensors(dir.resolve("fasterrcnn_resnet50_fpn.pth"), sd);
        }
        TorchvisionFasterRCNN other = TorchvisionFasterRCNN.resnet50Fpn(TvFpnFixture.transform(g), model.classNames(),
                TvFpnFixture.model(g).get("frozen_bn_eps").asDouble(), 3);
        try (PointerScope s = new PointerScope()) {
            other.load(file);
            Map<String, Tensor> mine = TvFpnFixture.targets(model, "");
            Map<String, Tensor> loaded = TvFpnFixture.targets(other, "");
            assertThat(loaded.keySet()).isEqualTo(mine.keySet());
            for (String k : mine.keySet()) assertThat(loaded.get(k).equal(mine.get(k))).as(k).isTrue();
        }
    }

    @Test
    void aMismatchNamesTheFileTheKeysAndTheShapes(@TempDir Path dir) throws Exception {
        Path file = StateDictFiles.write(dir.resolve("wrong.pth"),
                List.of("backbone.body.conv1.weight", "rpn.head.extra.weight"));
        assertThatThrownBy(() -> model.load(file))
                .isInstanceOf(WeightsMismatchException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("roi_heads.box_predictor.cls_score.weight")
                .hasMessageContaining("rpn.head.extra.weight")
                .hasMessageContaining("backbone.body.conv1.weight: copying a param with shape [1]")
                .hasMessageContaining("[64, 3, 7, 7]");
    }
}
