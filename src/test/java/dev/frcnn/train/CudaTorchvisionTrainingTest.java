package dev.frcnn.train;

import dev.frcnn.testing.Cuda;
import dev.frcnn.testing.FpnGridSizes;
import dev.frcnn.testing.TvFpnParams;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorIndex;
import org.bytedeco.pytorch.TensorIndexVector;
import org.bytedeco.pytorch.TensorVector;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertExact;
import static dev.frcnn.testing.TensorAssert.assertScalarClose;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * torchvision's training pieces on a CUDA device (skipped without one; {@code mvn -B test -Pgpu -Dgroups=cuda}, see
 * docs/gpu.md): anchors made on the device, the RPN and RoI matches, samples (replayed) and targets, and the RPN
 * losses, against {@code tv_fpn_train_step.json} with the CPU parity tests' tolerances.
 */
@Tag("cuda")
class CudaTorchvisionTrainingTest {
    @Test
    void targetsSamplesAndRpnLossesOnTheDevice() {
        Cuda.assumeAvailable();
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        RecordedSampler rpnReplay = f.replay("rpn");
        RecordedSampler roiReplay = f.replay("roi");
        RoIHeadTrainingSamples roi = f.roiSamples(roiReplay);
        try (PointerScope s = new PointerScope()) {
            long[] batched = f.g.longs("batched_shape");
            Tensor anchors = TvFpnParams.anchorGenerator().anchors(batched[2], batched[3],
                    FpnGridSizes.of(batched[2], batched[3]), Cuda.device());
            long a = anchors.size(0);
            Tensor objectness = zeros(new long[]{f.images * a});
            Tensor deltas = zeros(new long[]{f.images * a, 4});
            List<Tensor> labels = new ArrayList<>();
            List<Tensor> targets = new ArrayList<>();
            for (int i = 0; i < f.images; i++) {
                Tensor gt = Cuda.toCuda(f.g.tensor("gt_boxes_resized_" + i));
                RpnTargets.ImageTargets t = f.rpnTargets().assign(anchors, gt);
                assertExact(Cuda.fromCuda(t.matchedIdxs(), "rpn matches"), f.g.longs("rpn_matched_idxs_" + i),
                        "rpn_matched_idxs_" + i + " (cuda)");
                labels.add(t.labels());
                targets.add(t.regressionTargets());

                RoIHeadTrainingSamples.ImageSamples r = roi.select(Cuda.toCuda(f.g.tensor("rpn_proposals_" + i)), gt,
                        Cuda.toCuda(f.g.tensor("gt_labels_" + i)));
                assertExact(Cuda.fromCuda(r.assignment().matchedIdxs(), "roi matches"), f.g.longs("roi_matched_idxs_" + i),
                        "roi_matched_idxs_" + i + " (cuda)");
                assertExact(Cuda.fromCuda(r.sampledIndices(), "roi samples"), f.g.longs("roi_sampled_" + i),
                        "roi_sampled_" + i + " (cuda)");
                assertAllClose(Cuda.fromCuda(r.regressionTargets(), "roi targets"), f.g.floats("roi_regression_targets_" + i),
                        1e-5, 0, "roi_regression_targets_" + i + " (cuda)");

                Tensor pos = f.g.tensor("rpn_sampled_pos_" + i).add(new Scalar(i * a));
                Tensor neg = f.g.tensor("rpn_sampled_neg_" + i).add(new Scalar(i * a));
                objectness.index_put_(new TensorIndexVector(new TensorIndex(cat(new TensorVector(pos, neg), 0))),
                        f.g.tensor("rpn_sampled_objectness_" + i));
                deltas.index_put_(new TensorIndexVector(new TensorIndex(pos)), f.g.tensor("rpn_pos_deltas_" + i));
            }
            RpnLoss.Result r = new RpnLoss(f.rpnSampler(rpnReplay), f.beta())
                    .compute(Cuda.toCuda(objectness), Cuda.toCuda(deltas), labels, targets);
            double obj = f.g.scalar("loss_objectness");
            double box = f.g.scalar("loss_rpn_box_reg");
            assertScalarClose(Cuda.fromCuda(r.lossObjectness(), "loss_objectness").item_double(), obj, 1e-6 * obj,
                    "loss_objectness (cuda)");
            assertScalarClose(Cuda.fromCuda(r.lossRpnBoxReg(), "loss_rpn_box_reg").item_double(), box, 1e-6 * box,
                    "loss_rpn_box_reg (cuda)");
        }
    }
}
