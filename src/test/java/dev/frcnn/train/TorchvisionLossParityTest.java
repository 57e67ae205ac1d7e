package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorIndex;
import org.bytedeco.pytorch.TensorIndexVector;
import org.bytedeco.pytorch.TensorVector;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.frcnn.testing.TensorAssert.assertScalarClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * torchvision's four losses ({@code rpn.compute_loss}, {@code roi_heads.fastrcnn_loss}) against
 * {@code tv_fpn_train_step.json}, computed from the STORED logits and deltas at the sampled anchors/RoIs (placed in
 * otherwise zero outputs of the batch's full size), with the targets computed here and the recorded samples replayed:
 * rel 1e-6 (README). Needs no backbone.
 */
class TorchvisionLossParityTest {
    private static final double REL = 1e-6;

    @Test
    void rpnLossesFromTheStoredLogitsAndDeltas() {
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        RecordedSampler replay = f.replay("rpn");
        try (PointerScope s = new PointerScope()) {
            RpnLoss.Result r = rpnLosses(f, replay);
            assertRel(r.lossObjectness(), f.g.scalar("loss_objectness"), "loss_objectness");
            assertRel(r.lossRpnBoxReg(), f.g.scalar("loss_rpn_box_reg"), "loss_rpn_box_reg");
        }
        assertThat(replay.exhausted()).isTrue();
    }

    @Test
    void boxHeadLossesFromTheStoredLogitsAndDeltas() {
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        try (PointerScope s = new PointerScope()) {
            FastRCNNLoss.Result r = boxHeadLosses(f);
            assertRel(r.lossClassifier(), f.g.scalar("loss_classifier"), "loss_classifier");
            assertRel(r.lossBoxReg(), f.g.scalar("loss_box_reg"), "loss_box_reg");
        }
    }

    @Test
    void totalInTorchvisionsOrder() {
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        try (PointerScope s = new PointerScope()) {
            RpnLoss.Result rpn = rpnLosses(f, f.replay("rpn"));
            FastRCNNLoss.Result head = boxHeadLosses(f);
            TorchvisionLosses.Losses l = new TorchvisionLosses.Losses(head.lossClassifier(), head.lossBoxReg(),
                    rpn.lossObjectness(), rpn.lossRpnBoxReg());
            assertThat(l.names()).containsExactly(jsonStrings(f.g.params().path("loss_order")));
            assertRel(l.total(), f.g.scalar("loss_total"), "loss_total");
        }
    }

    private static String[] jsonStrings(com.fasterxml.jackson.databind.JsonNode n) {
        String[] out = new String[n.size()];
        for (int i = 0; i < out.length; i++) out[i] = n.get(i).asText();
        return out;
    }

    /** The RPN losses of the batch: stored logits at concat(pos, neg) and deltas at pos of each image, zeros elsewhere. */
    private static RpnLoss.Result rpnLosses(TvFpnTrainFixture f, RecordedSampler replay) {
        Tensor anchors = f.anchors();
        long a = anchors.size(0);
        Tensor objectness = zeros(new long[]{f.images * a});
        Tensor deltas = zeros(new long[]{f.images * a, 4});
        List<Tensor> labels = new ArrayList<>();
        List<Tensor> targets = new ArrayList<>();
        for (int i = 0; i < f.images; i++) {
            Tensor pos = f.g.tensor("rpn_sampled_pos_" + i).add(new Scalar(i * a));
            Tensor neg = f.g.tensor("rpn_sampled_neg_" + i).add(new Scalar(i * a));
            objectness.index_put_(index(cat(new TensorVector(pos, neg), 0)), f.g.tensor("rpn_sampled_objectness_" + i));
            deltas.index_put_(index(pos), f.g.tensor("rpn_pos_deltas_" + i));
            RpnTargets.ImageTargets t = f.rpnTargets().assign(anchors, f.g.tensor("gt_boxes_resized_" + i));
            labels.add(t.labels());
            targets.add(t.regressionTargets());
        }
        return new RpnLoss(f.rpnSampler(replay), f.beta()).compute(objectness, deltas, labels, targets);
    }

    /** The box-head losses: stored class logits; stored gt-class deltas of the positives, zeros elsewhere. */
    private static FastRCNNLoss.Result boxHeadLosses(TvFpnTrainFixture f) {
        Tensor classLogits = f.g.tensor("class_logits");
        long n = classLogits.size(0), c = classLogits.size(1);
        List<Tensor> labels = new ArrayList<>();
        List<Tensor> targets = new ArrayList<>();
        for (int i = 0; i < f.images; i++) {
            labels.add(f.g.tensor("roi_sampled_labels_" + i));
            targets.add(f.g.tensor("roi_regression_targets_" + i));
        }
        Tensor all = cat(new TensorVector(labels.toArray(new Tensor[0])), 0);
        Tensor pos = all.gt(new Scalar(0)).nonzero().view(-1);
        Tensor boxRegression = zeros(new long[]{n, c, 4});
        boxRegression.index_put_(new TensorIndexVector(new TensorIndex(pos), new TensorIndex(all.index_select(0, pos))),
                f.g.tensor("box_regression_pos"));
        assertThat(pos.size(0)).as("positive rows").isEqualTo(f.g.shape("box_regression_pos")[0]);
        return FastRCNNLoss.compute(classLogits, boxRegression.view(n, 4 * c), labels, targets, f.beta());
    }

    private static TensorIndexVector index(Tensor idx) {
        return new TensorIndexVector(new TensorIndex(idx));
    }

    private static void assertRel(Tensor actual, double expected, String what) {
        assertThat(Tensors.typeName(actual)).as(what + " dtype").isEqualTo("Float");
        assertThat(actual.dim()).as(what + " is a scalar").isZero();
        assertScalarClose(actual.item_double(), expected, REL * Math.abs(expected), what);
    }
}
