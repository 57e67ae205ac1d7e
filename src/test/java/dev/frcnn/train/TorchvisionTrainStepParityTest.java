package dev.frcnn.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.model.GeneralizedRCNNTransform;
import dev.frcnn.model.ImageSize;
import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.model.rpn.MultiLevelRegionProposalNetwork;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TvFpnFixture;
import dev.frcnn.testing.TvFpnModels;
import dev.frcnn.testing.TvFpnParams;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorIndex;
import org.bytedeco.pytorch.TensorIndexVector;
import org.bytedeco.pytorch.TensorVector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.frcnn.testing.TensorAssert.assertExact;
import static dev.frcnn.testing.TensorAssert.assertScalarClose;
import static dev.frcnn.testing.TensorAssert.assertScaledClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.cat;

/**
 * One training step of {@link TorchvisionFasterRCNN} through {@link TorchvisionTrainer} against
 * {@code tv_fpn_train_step.json} (README, "torchvision Faster R-CNN ResNet-50 FPN, one training step"): the model with
 * the formula weights of {@code tv_fpn_forward.json} (the same {@code k_offset}) and every setting from
 * {@code params.model}, in training mode, on the two stored input images with their gt boxes; the recorded RPN and
 * RoI samples are replayed and the stored {@code rpn_proposals_<i>} are taken (as the README recommends), so the
 * backbone, FPN, RPN head, box head and the losses' backward are what is compared. Checked: the padded batch and the
 * resized gt, the four losses and the total (rel 1e-5), the head outputs on the sampled RoIs, the gradients of the
 * 14 parameters of {@code params.grad_params} (the README's rel-L2 / norm / per-value tolerances), and which
 * parameters get gradients (72; {@code conv1}, {@code layer1} and FrozenBatchNorm2d none). One forward and backward
 * for the class (a few seconds).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TorchvisionTrainStepParityTest {
    private TvFpnTrainFixture f;
    private PointerScope scope;
    private TorchvisionFasterRCNN model;
    private TorchvisionFasterRCNN.TrainingForward forward;
    private TorchvisionTrainer.Losses losses;
    private RecordedSampler replay;
    private final Map<String, Tensor> params = new LinkedHashMap<>();

    @BeforeAll
    void oneStep() {
        f = new TvFpnTrainFixture();
        scope = new PointerScope();
        model = trainModel(f.g);
        List<long[]> choices = new ArrayList<>();
        for (String prefix : new String[]{"rpn", "roi"}) {
            for (int i = 0; i < f.images; i++) {
                choices.add(f.g.longs(prefix + "_sampled_pos_" + i));
                choices.add(f.g.longs(prefix + "_sampled_neg_" + i));
            }
        }
        replay = new RecordedSampler("rpn then roi sampler", choices);
        TorchvisionLosses tvLosses = new TorchvisionLosses(f.rpnTargets(), new RpnLoss(f.rpnSampler(replay), f.beta()),
                f.roiSamples(replay), f.beta());
        TorchvisionTrainer trainer = new TorchvisionTrainer(model, tvLosses, TorchvisionTrainer.TUTORIAL_LR,
                TorchvisionTrainer.TUTORIAL_MOMENTUM, TorchvisionTrainer.TUTORIAL_WEIGHT_DECAY);
        List<Tensor> images = new ArrayList<>();
        List<Tensor> gtBoxes = new ArrayList<>();
        List<Tensor> gtLabels = new ArrayList<>();
        List<Tensor> proposals = new ArrayList<>();
        for (int i = 0; i < f.images; i++) {
            images.add(GeneralizedRCNNTransform.toTensor(f.g.tensor("image_" + i + "_rgb_hwc")));
            gtBoxes.add(f.g.tensor("gt_boxes_" + i));
            gtLabels.add(f.g.tensor("gt_labels_" + i));
            proposals.add(f.g.tensor("rpn_proposals_" + i));
        }
        trainer.optimizer().zeroGrad();
        forward = model.trainingForward(images, gtBoxes);
        losses = trainer.losses(forward, gtLabels, proposals);
        losses.total().backward();
        StringTensorDict np = model.named_parameters(true);
        for (long i = 0; i < np.size(); i++) params.put(np.get(i).key().getString(), new Tensor(np.get(i).value()));
    }

    @AfterAll
    void release() {
        if (scope != null) scope.close();
    }

    /**
     * The fixture's model: formula weights of {@code tv_fpn_forward.json} (checked to use the same {@code k_offset}),
     * the transform's min/max size and the RPN's train top-n from this fixture's {@code params.model}.
     */
    static TorchvisionFasterRCNN trainModel(Golden g) {
        Golden fwd = TvFpnFixture.forward();
        long kTrain = g.params().path("weights").path("k_offset").asLong(-1);
        long kForward = fwd.params().path("weights").path("k_offset").asLong(-2);
        assertThat(kTrain).as(g.name() + ": params.weights.k_offset equals " + fwd.name() + "'s").isEqualTo(kForward);
        TorchvisionFasterRCNN built = TvFpnModels.build(fwd);
        JsonNode fm = TvFpnFixture.model(fwd);
        GeneralizedRCNNTransform transform = new GeneralizedRCNNTransform(TvFpnParams.integer(g, "min_size"),
                TvFpnParams.integer(g, "max_size"), TvFpnFixture.doubles(fm.get("image_mean")),
                TvFpnFixture.doubles(fm.get("image_std")), TvFpnParams.integer(g, "size_divisible"));
        MultiLevelRegionProposalNetwork.Settings s = built.rpn().settings();
        MultiLevelRegionProposalNetwork rpn = new MultiLevelRegionProposalNetwork(built.rpn().head(),
                built.rpn().anchorGenerator(), new MultiLevelRegionProposalNetwork.Settings(
                (long) TvFpnParams.number(g, "rpn_pre_nms_top_n_train"), s.preNmsTopNTest(),
                (long) TvFpnParams.number(g, "rpn_post_nms_top_n_train"), s.postNmsTopNTest(),
                TvFpnParams.number(g, "rpn_nms_thresh"), TvFpnParams.number(g, "rpn_score_thresh"),
                TvFpnParams.number(g, "rpn_min_size")));
        TorchvisionFasterRCNN m = new TorchvisionFasterRCNN(transform, built.backbone(), rpn, built.roiHeads(),
                built.classNames());
        m.train(true);
        return m;
    }

    @Test
    void paddedBatchAndResizedGt() {
        assertThat(Tensors.shape(forward.batch().tensors())).containsExactly(f.g.longs("batched_shape"));
        long[] sizes = f.g.longs("image_sizes");
        for (int i = 0; i < f.images; i++) {
            ImageSize s = forward.batch().imageSizes().get(i);
            assertThat(new long[]{s.height(), s.width()}).as("resized size of image " + i)
                    .containsExactly(sizes[2 * i], sizes[2 * i + 1]);
            assertExact(forward.gtBoxes().get(i), f.g.floats("gt_boxes_resized_" + i), "gt_boxes_resized_" + i);
        }
        assertThat(forward.rpn().anchors().size(0)).as("anchors of the padded batch")
                .isEqualTo((long) f.g.scalar("anchors_total"));
    }

    @Test
    void fourLossesAndTotal() {
        assertThat(replay.exhausted()).as("every recorded sample replayed").isTrue();
        for (var e : losses.losses().asMap().entrySet()) {
            double expected = f.g.scalar(e.getKey());
            assertScalarClose(e.getValue().item_double(), expected, 1e-5 * Math.abs(expected), e.getKey());
        }
        double total = f.g.scalar("loss_total");
        assertScalarClose(losses.total().item_double(), total, 1e-5 * Math.abs(total), "loss_total");
        assertThat(losses.total().requires_grad()).as("the total carries the graph").isTrue();
    }

    /**
     * The box head's outputs on the sampled RoIs: {@code class_logits} of all rows, and {@code box_regression_pos}
     * (the gt class's 4 columns of the positive rows): within 1e-5 of max|ref| per tensor, the README's tolerance of
     * the head outputs (measured on the public fixture: 7.8e-7 and 9.2e-8 of max|ref|).
     */
    @Test
    void headOutputsOnTheSampledRois() {
        Tensor logits = losses.head().classLogits().detach();
        assertThat(Tensors.shape(logits)).containsExactly(f.g.shape("class_logits"));
        assertScaledClose(logits, f.g.floats("class_logits"), 1e-5, 0.0, "class_logits");
        long n = logits.size(0), c = logits.size(1);
        List<Tensor> labels = new ArrayList<>();
        for (int i = 0; i < f.images; i++) labels.add(f.g.tensor("roi_sampled_labels_" + i));
        Tensor all = cat(new TensorVector(labels.toArray(new Tensor[0])), 0);
        Tensor pos = all.gt(new Scalar(0)).nonzero().view(-1);
        Tensor regPos = losses.head().boxRegression().detach().view(n, c, 4)
                .index(new TensorIndexVector(new TensorIndex(pos), new TensorIndex(all.index_select(0, pos))));
        assertScaledClose(regPos, f.g.floats("box_regression_pos"), 1e-5, 0.0, "box_regression_pos");
    }

    /**
     * The gradients of the parameters of {@code params.grad_params} (14) (every value, or the stored sampled indices):
     * rel-L2 of the difference at most 1e-3 for the RPN's cls/bbox and the RoI head, 2e-3 with the whole gradient's
     * norm within rel 1e-4 for {@code rpn.head.conv} and the backbone/FPN, and per value within 1e-2 max|ref| for the
     * backbone/FPN (README's table).
     */
    @Test
    void gradientsOfTheFourteenParameters() {
        Iterator<String> names = f.g.params().path("grad_params").fieldNames();
        int checked = 0;
        while (names.hasNext()) {
            String name = names.next();
            Tensor p = params.get(name);
            assertThat(p).as("model parameter " + name).isNotNull();
            assertThat(p.grad().defined()).as(name + " has a gradient").isTrue();
            Tensor grad = p.grad().reshape(-1);
            String key = "grad/" + name + "/";
            assertThat(Tensors.shape(p)).as(name + " shape").containsExactly(f.g.longs(key + "shape"));
            if (f.g.has(key + "idx")) grad = grad.index_select(0, f.g.tensor(key + "idx"));
            float[] got = Tensors.toFloatArray(grad);
            float[] ref = f.g.floats(key + "val");
            boolean deep = name.startsWith("backbone.");
            boolean rpnConv = name.startsWith("rpn.head.conv.");
            double relL2 = relL2(got, ref, name);
            assertThat(relL2).as("rel-L2 of the " + name + " gradient difference")
                    .isLessThanOrEqualTo(deep || rpnConv ? 2e-3 : 1e-3);
            if (deep || rpnConv) {
                double norm = f.g.scalar(key + "norm");
                double ours = p.grad().to(org.bytedeco.pytorch.global.torch.ScalarType.Double).norm().item_double();
                assertScalarClose(ours, norm, 1e-4 * norm, name + " gradient norm");
            }
            if (deep) assertScaledClose(got, ref, 1e-2, 0.0, name + " gradient values");
            checked++;
        }
        assertThat(checked).as("parameters in params.grad_params").isEqualTo(f.g.params().path("grad_params").size())
                .isPositive();
    }

    /**
     * trainable_backbone_layers 3: the fixture's {@code frozen_params} (conv1, layer1) do not require gradients and
     * get none, FrozenBatchNorm2d has no trainable tensor, and exactly {@code n_params_with_grad} parameters get one.
     */
    @Test
    void frozenParametersGetNoGradient() {
        Set<String> frozen = new HashSet<>();
        for (JsonNode n : TvFpnParams.model(f.g).path("frozen_params")) frozen.add(n.asText());
        assertThat(frozen).as("params.model.frozen_params").isNotEmpty();
        int withGrad = 0;
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            boolean has = e.getValue().grad().defined();
            if (has) withGrad++;
            if (frozen.contains(e.getKey()) || e.getKey().contains(".bn") || e.getKey().contains("downsample.1")) {
                assertThat(has).as(e.getKey() + " gets no gradient").isFalse();
                assertThat(e.getValue().requires_grad()).as(e.getKey() + " requires_grad").isFalse();
            }
        }
        for (String name : frozen) assertThat(params).as("frozen parameter " + name + " exists").containsKey(name);
        assertThat(withGrad).as("parameters with a gradient")
                .isEqualTo(f.g.params().path("n_params_with_grad").asInt(-1));
    }

    private static double relL2(float[] got, float[] ref, String name) {
        assertThat(got.length).as(name + " gradient size").isEqualTo(ref.length);
        double diff = 0, norm = 0;
        for (int i = 0; i < ref.length; i++) {
            diff += ((double) got[i] - ref[i]) * ((double) got[i] - ref[i]);
            norm += (double) ref[i] * ref[i];
        }
        assertThat(norm).as(name + " reference gradient is not zero").isPositive();
        return Math.sqrt(diff / norm);
    }
}
