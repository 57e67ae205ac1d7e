package dev.frcnn.model.rpn;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TvFpnFixture;
import dev.frcnn.testing.TvFpnParams;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * Parity of {@link MultiLevelRegionProposalNetwork} with torchvision 0.14 ({@code tv_fpn_forward.json}), from the
 * stored tensors so that backbone differences do not add up: anchors as the RPN gets them (exact; the generator's
 * own test is {@code AnchorGeneratorParityTest}), decoding and the per-level top-n from
 * the stored {@code rpn_objectness_flat}/{@code rpn_deltas_flat} (top-n set exact, boxes atol 1e-3 px), and the
 * proposals from the stored pre-NMS boxes and logits (exact: clip, remove small, per-level NMS, cut). The head's own
 * outputs on the model's features are checked by {@code dev.frcnn.model.TorchvisionFasterRCNNParityTest}.
 */
class MultiLevelRegionProposalNetworkParityTest {
    private static final double BOX_ATOL = 1e-3;

    private static Golden g;
    private static MultiLevelRegionProposalNetwork rpn;

    @BeforeAll
    static void build() {
        g = TvFpnFixture.forward();
        rpn = rpn(g);
        rpn.eval();
    }

    /** The RPN with the fixture's anchors and filter settings (the head's weights do not matter here). */
    static MultiLevelRegionProposalNetwork rpn(Golden g) {
        JsonNode m = TvFpnFixture.model(g);
        AnchorGenerator anchors = TvFpnParams.anchorGenerator(g);
        long pre = m.get("rpn_pre_nms_top_n_test").asLong();
        long post = m.get("rpn_post_nms_top_n_test").asLong();
        MultiLevelRegionProposalNetwork.Settings s = new MultiLevelRegionProposalNetwork.Settings(2000, pre, 2000, post,
                m.get("rpn_nms_thresh").asDouble(), m.get("rpn_score_thresh").asDouble(), m.get("rpn_min_size").asDouble());
        return new MultiLevelRegionProposalNetwork(new RPNHead(256, anchors.numAnchorsPerLocation()[0]), anchors, s);
    }

    private static List<Tensor> levelShapes() {
        List<Tensor> f = new ArrayList<>();
        for (String name : List.of("0", "1", "2", "3", "pool")) {
            long[] s = g.longs("fpn_" + name + "_shape");
            f.add(zeros(1, 1, s[2], s[3]));
        }
        return f;
    }

    private static Tensor anchors() {
        long[] padded = g.longs("transform_batched_shape");
        return rpn.anchorGenerator().anchors(padded[2], padded[3], levelShapes());
    }

    private static long[] imageSize() {
        return g.longs("transform_image_size");
    }

    @Test
    void anchorsMatch() {
        try (PointerScope s = new PointerScope()) {
            Tensor a = anchors();
            long[] perLevel = g.longs("anchors_per_level");
            assertThat(a.size(0)).isEqualTo(g.longs("anchors_total")[0]);
            float[] first = g.floats("anchors_first_rows");
            float[] last = g.floats("anchors_last_rows");
            long offset = 0;
            for (int l = 0; l < perLevel.length; l++) {
                float[] gotFirst = Tensors.toFloatArray(a.narrow(0, offset, 6));
                float[] gotLast = Tensors.toFloatArray(a.narrow(0, offset + perLevel[l] - 6, 6));
                for (int j = 0; j < 24; j++) {
                    assertThat(gotFirst[j]).as("level %d first rows [%d]", l, j).isEqualTo(first[l * 24 + j]);
                    assertThat(gotLast[j]).as("level %d last rows [%d]", l, j).isEqualTo(last[l * 24 + j]);
                }
                offset += perLevel[l];
            }
            assertThat(offset).isEqualTo(a.size(0));
        }
    }

    @Test
    void topNAndDecodeFromStoredHeadOutputsMatch() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor objectness = g.tensor("rpn_objectness_flat").view(1, -1);
            Tensor deltas = g.tensor("rpn_deltas_flat");
            long[] perLevel = g.longs("anchors_per_level");
            Tensor top = rpn.topNIndices(objectness, perLevel).get(0);
            long[] want = g.longs("pre_nms_idx");
            long[] got = Tensors.toLongArray(top);
            assertThat(got.length).isEqualTo(want.length);
            Set<Long> a = new HashSet<>(), b = new HashSet<>();
            for (long v : got) a.add(v);
            for (long v : want) b.add(v);
            assertThat(a).as("pre-NMS top-n set").isEqualTo(b);

            Tensor boxes = rpn.boxCoder().decodeSingle(deltas, anchors());
            Tensor wantIdx = Tensors.fromLongs(want, want.length);
            float[] decoded = Tensors.toFloatArray(boxes.index_select(0, wantIdx));
            float[] wantBoxes = g.floats("pre_nms_boxes");
            double worst = 0;
            for (int i = 0; i < decoded.length; i++) worst = Math.max(worst, Math.abs(decoded[i] - wantBoxes[i]));
            assertThat(worst).as("decoded pre-NMS boxes, max |diff| px").isLessThanOrEqualTo(BOX_ATOL);

            List<MultiLevelRegionProposalNetwork.Proposals> props = rpn.filterProposals(boxes.view(1, -1, 4), objectness,
                    List.of(imageSize()), perLevel);
            checkProposalsClose(props.get(0));
        }
    }

    /** End-to-end proposals (the README's rule): set overlap >= 98 %, matched boxes atol 1e-3 px. */
    static void checkProposalsClose(MultiLevelRegionProposalNetwork.Proposals p) {
        long[] src = Tensors.toLongArray(p.anchorIndex());
        long[] want = g.longs("proposal_anchor_index");
        float[] boxes = Tensors.toFloatArray(p.boxes());
        float[] wantBoxes = g.floats("proposals");
        java.util.Map<Long, Integer> at = new java.util.HashMap<>();
        for (int i = 0; i < src.length; i++) at.put(src[i], i);
        int matched = 0;
        for (int j = 0; j < want.length; j++) {
            Integer i = at.get(want[j]);
            if (i == null) continue;
            matched++;
            for (int c = 0; c < 4; c++) {
                assertThat((double) Math.abs(boxes[4 * i + c] - wantBoxes[4 * j + c])).as("proposal %d coord %d", j, c)
                        .isLessThanOrEqualTo(BOX_ATOL);
            }
        }
        assertThat(src.length).isEqualTo(want.length);
        assertThat(matched).as("proposals matched by source anchor").isGreaterThanOrEqualTo((int) Math.ceil(0.98 * want.length));
    }

    /** Rows (anchor index, level, 4 box coordinates) as strings, sorted by anchor index within runs of equal score. */
    static List<String> canonical(float[] boxes, long[] levels, long[] anchorIndex, float[] scores) {
        List<String> rows = new ArrayList<>();
        int i = 0;
        while (i < scores.length) {
            int j = i;
            while (j + 1 < scores.length && scores[j + 1] == scores[i]) j++;
            List<Integer> run = new ArrayList<>();
            for (int k = i; k <= j; k++) run.add(k);
            run.sort(java.util.Comparator.comparingLong(k -> anchorIndex[k]));
            for (int k : run) {
                rows.add(anchorIndex[k] + " " + levels[k] + " " + boxes[4 * k] + " " + boxes[4 * k + 1] + " "
                        + boxes[4 * k + 2] + " " + boxes[4 * k + 3]);
            }
            i = j + 1;
        }
        return rows;
    }

    @Test
    void proposalsFromStoredPreNmsInputsAreExact() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            MultiLevelRegionProposalNetwork.Proposals p = rpn.filterImage(g.tensor("pre_nms_boxes"),
                    g.tensor("pre_nms_objectness"), g.tensor("pre_nms_level"), g.tensor("pre_nms_idx"), imageSize());
            float[] scores = Tensors.toFloatArray(p.scores());
            assertThat(scores).containsExactly(g.floats("proposal_prob"));
            // torchvision sorts the kept boxes with an unstable sort: rows of exactly equal score (one pair in the
            // public set) may come in either order. Compare rows in a canonical order within each run of equal scores.
            assertThat(canonical(Tensors.toFloatArray(p.boxes()), Tensors.toLongArray(p.levels()),
                    Tensors.toLongArray(p.anchorIndex()), scores))
                    .isEqualTo(canonical(g.floats("proposals"), g.longs("proposal_level"), g.longs("proposal_anchor_index"),
                            g.floats("proposal_prob")));
            assertThat(Tensors.isType(p.boxes(), ScalarType.Float)).isTrue();
        }
    }
}
