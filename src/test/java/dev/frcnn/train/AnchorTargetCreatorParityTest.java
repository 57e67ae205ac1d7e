package dev.frcnn.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static dev.frcnn.testing.TensorAssert.assertRelFloor1;
import static dev.frcnn.testing.TensorAssert.assertExact;
import static dev.frcnn.testing.TensorAssert.assertShape;
import static org.assertj.core.api.Assertions.assertThat;

/** Parity of {@link AnchorTargetCreator} (with {@link Sampler#firstN()}) with anchor_target_creator.json, every case. */
class AnchorTargetCreatorParityTest {
    private static final String FILE = "anchor_target_creator.json";

    private static List<String> cases(Golden g) {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = g.params().get("cases").fieldNames(); it.hasNext(); ) out.add(it.next());
        return out;
    }

    @Test
    void allCasesMatch() {
        Golden g = Golden.load(FILE);
        List<String> cases = cases(g);
        assertThat(cases).as("cases in " + FILE).isNotEmpty();
        JsonNode img = g.params().get("img_size");
        int h = img.get(0).asInt(), w = img.get(1).asInt();
        for (String c : cases) {
            JsonNode p = g.params().get("cases").get(c);
            try (PointerScope s = new PointerScope()) {
                AnchorTargetCreator atc = new AnchorTargetCreator(p.get("n_sample").asInt(),
                        p.get("pos_iou_thresh").asDouble(), p.get("neg_iou_thresh").asDouble(),
                        p.get("pos_ratio").asDouble(), Sampler.firstN());
                AnchorTargetCreator.Trace t = atc.trace(g.tensor(c + "_bbox"), g.tensor("anchor"), h, w);
                String pre = "case " + c + ": ";
                assertExact(t.insideIndex(), g.longs(c + "_inside_index"), pre + "inside_index");
                assertExact(t.argmaxIous(), g.longs(c + "_argmax_ious"), pre + "argmax_ious");
                assertRelFloor1(t.maxIous(), g.floats(c + "_max_ious"), 1e-6, pre + "max_ious");
                assertExact(t.gtArgmaxIous(), g.longs(c + "_gt_argmax_ious"), pre + "gt_argmax_ious");
                assertExact(t.labelBeforeSubsample(), g.longs(c + "_label_before_subsample"),
                        pre + "label_before_subsample");
                assertShape(t.result().label(), g.shape(c + "_label"), pre + "label");
                assertExact(t.result().label(), g.longs(c + "_label"), pre + "label");
                assertShape(t.result().loc(), g.shape(c + "_loc"), pre + "loc");
                assertRelFloor1(t.result().loc(), g.floats(c + "_loc"), 1e-6, pre + "loc");
                assertThat(t.result().label().scalar_type().value).isEqualTo(
                        org.bytedeco.pytorch.global.torch.ScalarType.Long.value);

                // The counts stated in params.
                long[] label = dev.frcnn.tensor.Tensors.toLongArray(t.result().label());
                long pos = 0, neg = 0;
                for (long v : label) { if (v == 1) pos++; else if (v == 0) neg++; }
                assertThat(pos).as(pre + "n_pos_after").isEqualTo(p.get("n_pos_after").asLong());
                assertThat(neg).as(pre + "n_neg_after").isEqualTo(p.get("n_neg_after").asLong());

                // call() gives the same result as trace().
                AnchorTargetCreator.Result r = atc.call(g.tensor(c + "_bbox"), g.tensor("anchor"), h, w);
                assertExact(r.label(), g.longs(c + "_label"), pre + "call label");
            }
        }
    }
}
