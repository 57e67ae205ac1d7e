package dev.frcnn.model.rpn;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ProposalCreator} against {@code proposal_creator.json}: count, order and source anchor index exact, boxes atol 1e-3 px. */
class ProposalCreatorParityTest {
    @ParameterizedTest
    @ValueSource(strings = {"train", "test", "train_minsize", "test_minsize"})
    void matchesReference(String name) {
        Golden g = Golden.load("proposal_creator.json");
        JsonNode p = g.params();
        JsonNode c = p.path("cases").path(name);
        assertThat(c.isMissingNode()).as("case " + name).isFalse();
        ProposalCreator creator = new ProposalCreator(p.get("nms_thresh").asDouble(), 12000, 2000, 6000, 300,
                p.get("min_size").asDouble());
        boolean training = c.get("training").asBoolean();
        assertThat(training ? creator.nTrainPreNms() : creator.nTestPreNms()).isEqualTo(c.get("n_pre_nms").asLong());
        assertThat(training ? creator.nTrainPostNms() : creator.nTestPostNms()).isEqualTo(c.get("n_post_nms").asLong());
        try (PointerScope s = new PointerScope()) {
            ProposalCreator.Proposals pr = creator.propose(g.tensor("loc"), g.tensor("score"), g.tensor("anchor"),
                    p.get("img_size").get(0).asLong(), p.get("img_size").get(1).asLong(), c.get("scale").asDouble(),
                    training);
            Tensor roi = pr.roi();
            TensorAssert.assertShape(roi, g.shape(name + "_roi"), name + "_roi");
            TensorAssert.assertAllClose(roi, g.floats(name + "_roi"), 1e-3, 0, name + "_roi");
            // The README: anchor_index (the source anchor of each roi) must match exactly.
            TensorAssert.assertExact(pr.anchorIndex(), g.longs(name + "_anchor_index"), name + "_anchor_index");
            // apply() returns the same rois as propose().
            TensorAssert.assertExact(creator.apply(g.tensor("loc"), g.tensor("score"), g.tensor("anchor"),
                    p.get("img_size").get(0).asLong(), p.get("img_size").get(1).asLong(), c.get("scale").asDouble(),
                    training), dev.frcnn.tensor.Tensors.toFloatArray(roi), name + " apply");
        }
    }
}
