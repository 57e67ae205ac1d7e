package dev.frcnn.train;

import dev.frcnn.model.ImageList;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.TvFpnParams;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorIndex;
import org.bytedeco.pytorch.TensorIndexVector;
import org.bytedeco.pytorch.TensorVector;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.frcnn.testing.TensorAssert.assertExact;
import static dev.frcnn.testing.TensorAssert.assertScalarClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * The entry point {@link TorchvisionLosses} on {@code tv_fpn_train_step.json}: the stored RPN outputs at the sampled
 * anchors and the stored proposals go in, one sampler replays the recorded RPN then RoI choices in torchvision's order,
 * the box head is a stand-in that checks it is given the sampled RoIs (exact) and returns the stored head outputs; the
 * four losses and the total must match (rel 1e-6, README).
 */
class TorchvisionLossesParityTest {
    @Test
    void fourLossesOfThePaddedBatch() {
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        List<long[]> choices = new ArrayList<>();
        for (String prefix : new String[]{"rpn", "roi"}) {
            for (int i = 0; i < f.images; i++) {
                choices.add(f.g.longs(prefix + "_sampled_pos_" + i));
                choices.add(f.g.longs(prefix + "_sampled_neg_" + i));
            }
        }
        RecordedSampler replay = new RecordedSampler("rpn then roi sampler", choices);
        TorchvisionLosses losses = new TorchvisionLosses(f.rpnTargets(),
                new RpnLoss(f.rpnSampler(replay), f.beta()), f.roiSamples(replay), f.beta());
        try (PointerScope s = new PointerScope()) {
            Tensor anchors = f.anchors();
            long a = anchors.size(0);
            Tensor objectness = zeros(new long[]{f.images * a, 1});
            Tensor deltas = zeros(new long[]{f.images * a, 4});
            List<Tensor> proposals = new ArrayList<>();
            List<Tensor> gtBoxes = new ArrayList<>();
            List<Tensor> gtLabels = new ArrayList<>();
            List<Tensor> images = new ArrayList<>();
            fill(f, a, objectness, deltas, proposals, gtBoxes, gtLabels, images);
            long[] batched = f.g.longs("batched_shape");
            ImageList batch = ImageList.pad(images, (int) TvFpnParams.number(f.g, "size_divisible"));
            assertThat(Tensors.shape(batch.tensors())).containsExactly(batched);

            TorchvisionLosses.BoxHead head = rois -> {
                for (int i = 0; i < f.images; i++) {
                    Tensor expected = f.g.tensor("roi_proposals_" + i).index_select(0, f.g.tensor("roi_sampled_" + i));
                    assertExact(rois.get(i), Tensors.toFloatArray(expected), "sampled RoIs of image " + i);
                }
                return storedHeadOutputs(f);
            };
            TorchvisionLosses.Losses l = losses.compute(batch, gtBoxes, gtLabels,
                    new TorchvisionLosses.RpnOutputs(anchors, objectness, deltas, proposals), head);
            for (var e : l.asMap().entrySet()) {
                double expected = f.g.scalar(e.getKey());
                assertScalarClose(e.getValue().item_double(), expected, 1e-6 * Math.abs(expected), e.getKey());
            }
            double total = f.g.scalar("loss_total");
            assertScalarClose(l.total().item_double(), total, 1e-6 * total, "loss_total");

            List<Tensor> bad = new ArrayList<>(gtBoxes);
            bad.set(1, Tensors.fromFloats(new float[]{10, 10, 10, 20}, 1, 4));
            assertThatThrownBy(() -> losses.compute(batch, bad, gtLabels,
                    new TorchvisionLosses.RpnOutputs(anchors, objectness, deltas, proposals), head))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("positive height and width").hasMessageContaining("index 1");
        }
        assertThat(replay.exhausted()).as("every recorded sample replayed").isTrue();
    }

    /**
     * The backward of the four losses: the gradients of the total with respect to the RPN and head outputs, summed the
     * way the bias of the layer that produced them sums them, give the fixture's gradients of
     * {@code rpn.head.cls_logits.bias} (per anchor type), {@code rpn.head.bbox_pred.bias} (per anchor type and delta),
     * {@code roi_heads.box_predictor.cls_score.bias} and {@code bbox_pred.bias} (per column): rel-L2 of the difference
     * at most 1e-3 (README).
     */
    @Test
    void gradientsOfTheOutputsGiveTheFixturesBiasGradients() {
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        TorchvisionLosses losses = new TorchvisionLosses(f.rpnTargets(), new RpnLoss(f.rpnSampler(f.replay("rpn")), f.beta()),
                f.roiSamples(f.replay("roi")), f.beta());
        try (PointerScope s = new PointerScope()) {
            Tensor anchors = f.anchors();
            long a = anchors.size(0);
            int perLocation = TvFpnParams.anchorGenerator().numAnchorsPerLocation()[0];
            Tensor objectness = zeros(new long[]{f.images * a, 1});
            Tensor deltas = zeros(new long[]{f.images * a, 4});
            List<Tensor> proposals = new ArrayList<>();
            List<Tensor> gtBoxes = new ArrayList<>();
            List<Tensor> gtLabels = new ArrayList<>();
            List<Tensor> images = new ArrayList<>();
            fill(f, a, objectness, deltas, proposals, gtBoxes, gtLabels, images);
            objectness.requires_grad_(true);
            deltas.requires_grad_(true);
            TorchvisionLosses.HeadOutputs stored = storedHeadOutputs(f);
            Tensor classLogits = stored.classLogits().clone().requires_grad_(true);
            Tensor boxRegression = stored.boxRegression().clone().requires_grad_(true);
            TorchvisionLosses.Losses l = losses.compute(ImageList.pad(images, (int) TvFpnParams.number(f.g, "size_divisible")), gtBoxes, gtLabels,
                    new TorchvisionLosses.RpnOutputs(anchors, objectness, deltas, proposals),
                    rois -> new TorchvisionLosses.HeadOutputs(classLogits, boxRegression));
            l.total().backward();
            assertRelL2(objectness.grad().view(-1, perLocation).sum(new long[]{0}), f, "rpn.head.cls_logits.bias");
            assertRelL2(deltas.grad().view(-1, perLocation * 4).sum(new long[]{0}), f, "rpn.head.bbox_pred.bias");
            assertRelL2(classLogits.grad().sum(new long[]{0}), f, "roi_heads.box_predictor.cls_score.bias");
            assertRelL2(boxRegression.grad().sum(new long[]{0}), f, "roi_heads.box_predictor.bbox_pred.bias");
        }
    }

    private static void assertRelL2(Tensor actual, TvFpnTrainFixture f, String param) {
        float[] got = Tensors.toFloatArray(actual);
        float[] ref = f.g.floats("grad/" + param + "/val");
        assertThat(got.length).as(param + " gradient size").isEqualTo(ref.length);
        double diff = 0, norm = 0;
        for (int i = 0; i < ref.length; i++) {
            diff += ((double) got[i] - ref[i]) * ((double) got[i] - ref[i]);
            norm += (double) ref[i] * ref[i];
        }
        assertThat(norm).as(param + " reference gradient is not zero").isPositive();
        assertThat(Math.sqrt(diff / norm)).as("rel-L2 of the " + param + " gradient difference").isLessThanOrEqualTo(1e-3);
    }

    /**
     * {@link TorchvisionLosses#fasterRcnnDefaults} with a seeded sampler on the fixture's batch: torchvision's sample
     * sizes (256 anchors and 512 RoIs per image, every positive kept while there are fewer than the cap), the same
     * samples for the same seed, and, since every positive is kept and the divisor counts 256 anchors per image,
     * {@code loss_rpn_box_reg} equal to the fixture's whatever negatives were drawn. A head giving zero logits has
     * {@code loss_classifier = ln(C)}.
     */
    @Test
    void seededDefaultsSampleTorchvisionsCounts() {
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        try (PointerScope s = new PointerScope()) {
            Tensor anchors = f.anchors();
            long a = anchors.size(0);
            Tensor objectness = zeros(new long[]{f.images * a, 1});
            Tensor deltas = zeros(new long[]{f.images * a, 4});
            List<Tensor> proposals = new ArrayList<>();
            List<Tensor> gtBoxes = new ArrayList<>();
            List<Tensor> gtLabels = new ArrayList<>();
            List<Tensor> images = new ArrayList<>();
            fill(f, a, objectness, deltas, proposals, gtBoxes, gtLabels, images);
            ImageList batch = ImageList.pad(images, (int) TvFpnParams.number(f.g, "size_divisible"));
            long classes = f.g.shape("class_logits")[1];
            List<List<Tensor>> seen = new ArrayList<>();
            double[] classifier = new double[2];
            double[] rpnBox = new double[2];
            for (int run = 0; run < 2; run++) {
                List<Tensor> runRois = new ArrayList<>();
                TorchvisionLosses.Losses l = TorchvisionLosses.fasterRcnnDefaults(Sampler.seeded(11)).compute(batch, gtBoxes,
                        gtLabels, new TorchvisionLosses.RpnOutputs(anchors, objectness, deltas, proposals), rois -> {
                            runRois.addAll(rois);
                            long n = 0;
                            for (Tensor r : rois) n += r.size(0);
                            return new TorchvisionLosses.HeadOutputs(zeros(new long[]{n, classes}), zeros(new long[]{n, 4 * classes}));
                        });
                seen.add(runRois);
                classifier[run] = l.lossClassifier().item_double();
                rpnBox[run] = l.lossRpnBoxReg().item_double();
            }
            for (int i = 0; i < f.images; i++) {
                assertThat(seen.get(0).get(i).size(0)).as("RoIs sampled in image " + i)
                        .isEqualTo(TvFpnParams.integer(f.g, "box_batch_size_per_image"));
                assertExact(seen.get(1).get(i), Tensors.toFloatArray(seen.get(0).get(i)), "same seed, same RoIs of image " + i);
            }
            assertScalarClose(classifier[0], Math.log(classes), 1e-6, "loss_classifier of zero logits");
            boolean allPositivesKept = true;
            for (int i = 0; i < f.images; i++) {
                allPositivesKept &= f.count("rpn_counts", i, "positive") == f.count("rpn_counts", i, "sampled_pos")
                        && f.count("rpn_counts", i, "sampled_pos") + f.count("rpn_counts", i, "sampled_neg")
                        == TvFpnParams.integer(f.g, "rpn_batch_size_per_image");
            }
            if (allPositivesKept) {
                double expected = f.g.scalar("loss_rpn_box_reg");
                assertScalarClose(rpnBox[0], expected, 1e-6 * expected, "loss_rpn_box_reg with seeded negatives");
            }
            assertThat(rpnBox[1]).isEqualTo(rpnBox[0]);
        }
    }

    /** The stored class logits; the stored gt-class deltas of the positive rows, zeros elsewhere. */
    private static TorchvisionLosses.HeadOutputs storedHeadOutputs(TvFpnTrainFixture f) {
        Tensor classLogits = f.g.tensor("class_logits");
        long n = classLogits.size(0), c = classLogits.size(1);
        List<Tensor> labels = new ArrayList<>();
        for (int i = 0; i < f.images; i++) labels.add(f.g.tensor("roi_sampled_labels_" + i));
        Tensor all = cat(new TensorVector(labels.toArray(new Tensor[0])), 0);
        Tensor pos = all.gt(new Scalar(0)).nonzero().view(-1);
        Tensor boxRegression = zeros(new long[]{n, c, 4});
        boxRegression.index_put_(new TensorIndexVector(new TensorIndex(pos), new TensorIndex(all.index_select(0, pos))),
                f.g.tensor("box_regression_pos"));
        return new TorchvisionLosses.HeadOutputs(classLogits, boxRegression.view(n, 4 * c));
    }

    /**
     * The stored RPN logits at concat(pos, neg) and deltas at pos of each image (zeros elsewhere), the stored proposals,
     * the resized gt, and zero images of the resized sizes (for the padded batch).
     */
    private static void fill(TvFpnTrainFixture f, long a, Tensor objectness, Tensor deltas, List<Tensor> proposals,
                             List<Tensor> gtBoxes, List<Tensor> gtLabels, List<Tensor> images) {
        long[] sizes = f.g.longs("image_sizes");
        for (int i = 0; i < f.images; i++) {
            Tensor pos = f.g.tensor("rpn_sampled_pos_" + i).add(new Scalar(i * a));
            Tensor neg = f.g.tensor("rpn_sampled_neg_" + i).add(new Scalar(i * a));
            objectness.index_put_(index(cat(new TensorVector(pos, neg), 0)), f.g.tensor("rpn_sampled_objectness_" + i).view(-1, 1));
            deltas.index_put_(index(pos), f.g.tensor("rpn_pos_deltas_" + i));
            proposals.add(f.g.tensor("rpn_proposals_" + i));
            gtBoxes.add(f.g.tensor("gt_boxes_resized_" + i));
            gtLabels.add(f.g.tensor("gt_labels_" + i));
            images.add(zeros(new long[]{3, sizes[2 * i], sizes[2 * i + 1]}));
        }
    }

    private static TensorIndexVector index(Tensor idx) {
        return new TensorIndexVector(new TensorIndex(idx));
    }
}
