package dev.frcnn.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static dev.frcnn.testing.TensorAssert.assertRelFloor1;
import static dev.frcnn.testing.TensorAssert.assertExact;
import static dev.frcnn.testing.TensorAssert.assertShape;
import static org.assertj.core.api.Assertions.assertThat;

/** Parity of {@link ProposalTargetCreator} (with {@link Sampler#firstN()}) with proposal_target_creator.json, every case. */
class ProposalTargetCreatorParityTest {
    private static final String FILE = "proposal_target_creator.json";

    private static double[] doubles(JsonNode arr) {
        double[] out = new double[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = arr.get(i).asDouble();
        return out;
    }

    @Test
    void allCasesMatch() {
        Golden g = Golden.load(FILE);
        JsonNode p = g.params();
        List<String> cases = new ArrayList<>();
        for (Iterator<String> it = p.get("cases").fieldNames(); it.hasNext(); ) cases.add(it.next());
        assertThat(cases).as("cases in " + FILE).isNotEmpty();
        ProposalTargetCreator ptc = new ProposalTargetCreator(p.get("n_sample").asInt(), p.get("pos_ratio").asDouble(),
                p.get("pos_iou_thresh").asDouble(), p.get("neg_iou_thresh_hi").asDouble(),
                p.get("neg_iou_thresh_lo").asDouble(), doubles(p.get("loc_normalize_mean")),
                doubles(p.get("loc_normalize_std")), Sampler.firstN());
        for (String c : cases) {
            String pre = "case " + c + ": ";
            try (PointerScope s = new PointerScope()) {
                ProposalTargetCreator.Trace t = ptc.trace(g.tensor(c + "_roi"), g.tensor("bbox"), g.tensor("label"));
                assertExact(t.gtAssignment(), g.longs(c + "_gt_assignment"), pre + "gt_assignment");
                assertRelFloor1(t.maxIou(), g.floats(c + "_max_iou"), 1e-6, pre + "max_iou");
                assertExact(t.keepIndex(), g.longs(c + "_keep_index"), pre + "keep_index");
                ProposalTargetCreator.Result r = t.result();
                assertShape(r.sampleRoi(), g.shape(c + "_sample_roi"), pre + "sample_roi");
                assertExact(r.sampleRoi(), g.floats(c + "_sample_roi"), pre + "sample_roi");
                assertShape(r.gtRoiLabel(), g.shape(c + "_gt_roi_label"), pre + "gt_roi_label");
                assertExact(r.gtRoiLabel(), g.longs(c + "_gt_roi_label"), pre + "gt_roi_label");
                assertShape(r.gtRoiLoc(), g.shape(c + "_gt_roi_loc"), pre + "gt_roi_loc");
                assertRelFloor1(r.gtRoiLoc(), g.floats(c + "_gt_roi_loc"), 1e-5, pre + "gt_roi_loc");

                long[] label = dev.frcnn.tensor.Tensors.toLongArray(r.gtRoiLabel());
                long fg = 0;
                for (long v : label) if (v > 0) fg++;
                JsonNode cp = p.get("cases").get(c);
                assertThat(fg).as(pre + "n_pos").isEqualTo(cp.get("n_pos").asLong());
                assertThat(label.length - fg).as(pre + "n_neg").isEqualTo(cp.get("n_neg").asLong());
            }
        }
    }
}
