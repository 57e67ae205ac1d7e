package dev.frcnn.train;

import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.model.GeneralizedRCNNTransform;
import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.TvFpnFixture;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.equal;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.rand;

/**
 * {@link TorchvisionTrainer} and fine-tuning of {@link TorchvisionFasterRCNN} on small inputs: a 91-class checkpoint
 * fine-tuned to 2 classes keeps every other weight and gets a fresh predictor (torchvision's fine-tuning tutorial);
 * one SGD step is {@code p - lr * (grad + weight_decay * p)} for every trainable parameter (biases decayed too) and
 * leaves the frozen ones alone; a non-finite loss stops the step before backward; degenerate gt boxes and eval mode
 * are refused.
 */
class TorchvisionTrainerTest {
    private static final List<String> TWO = List.of("raccoon", "other");

    private static GeneralizedRCNNTransform small() {
        return new GeneralizedRCNNTransform(64, 96, GeneralizedRCNNTransform.IMAGENET_MEAN,
                GeneralizedRCNNTransform.IMAGENET_STD, GeneralizedRCNNTransform.DEFAULT_SIZE_DIVISIBLE);
    }

    private static Map<String, Tensor> stateDict(TorchvisionFasterRCNN m) {
        Map<String, Tensor> sd = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : TvFpnFixture.targets(m, "").entrySet()) sd.put(e.getKey(), e.getValue().clone());
        return sd;
    }

    @Test
    void cocoCheckpointFineTunedToTwoClassesKeepsEveryOtherWeightAndGetsAFreshPredictor() {
        try (PointerScope s = new PointerScope()) {
            manual_seed(3);
            Map<String, Tensor> coco = stateDict(TorchvisionFasterRCNN.cocoResnet50Fpn(small()));
            assertThat(coco.get("roi_heads.box_predictor.cls_score.weight").size(0)).isEqualTo(91);
            TorchvisionFasterRCNN two = TorchvisionFasterRCNN.resnet50Fpn(small(), TWO, 0.0, 3);
            Map<String, Tensor> fresh = stateDict(two);

            assertThat(two.loadForFineTuning(coco, "coco.pth")).as("predictor replaced").isTrue();
            Map<String, Tensor> after = stateDict(two);
            assertThat(after.keySet()).containsExactlyElementsOf(coco.keySet());
            int compared = 0;
            for (Map.Entry<String, Tensor> e : after.entrySet()) {
                if (TorchvisionFasterRCNN.PREDICTOR_KEYS.contains(e.getKey())) {
                    assertThat(equal(e.getValue(), fresh.get(e.getKey()))).as(e.getKey() + " keeps its fresh values").isTrue();
                } else {
                    assertThat(equal(e.getValue(), coco.get(e.getKey()))).as(e.getKey() + " loaded from the checkpoint").isTrue();
                    compared++;
                }
            }
            assertThat(compared).isEqualTo(coco.size() - 4);
            assertThat(Tensors.shape(after.get("roi_heads.box_predictor.cls_score.weight"))).containsExactly(3, 1024);
            assertThat(Tensors.shape(after.get("roi_heads.box_predictor.bbox_pred.weight"))).containsExactly(12, 1024);
            assertThat(equal(fresh.get("backbone.fpn.layer_blocks.0.0.weight"), coco.get("backbone.fpn.layer_blocks.0.0.weight")))
                    .as("the two models started from different weights").isFalse();

            // A checkpoint of the model's own class count loads whole, predictor included.
            Map<String, Tensor> twoCkpt = stateDict(two);
            twoCkpt.put("roi_heads.box_predictor.cls_score.weight",
                    twoCkpt.get("roi_heads.box_predictor.cls_score.weight").add(new Scalar(1.0)));
            assertThat(two.loadForFineTuning(twoCkpt, "two.pth")).isFalse();
            assertThat(equal(stateDict(two).get("roi_heads.box_predictor.cls_score.weight"),
                    twoCkpt.get("roi_heads.box_predictor.cls_score.weight"))).isTrue();

            // Anything outside the predictor must still match.
            coco.remove("backbone.fpn.layer_blocks.0.0.weight");
            assertThatThrownBy(() -> two.loadForFineTuning(coco, "broken.pth"))
                    .isInstanceOf(WeightsMismatchException.class)
                    .hasMessageContaining("broken.pth").hasMessageContaining("backbone.fpn.layer_blocks.0.0.weight");
        }
    }

    @Test
    void oneStepIsSgdWithWeightDecayOnTheTrainableParametersOnly() {
        try (PointerScope s = new PointerScope()) {
            manual_seed(5);
            TorchvisionFasterRCNN model = TorchvisionFasterRCNN.resnet50Fpn(small(), TWO, 0.0, 3);
            double lr = 0.01;
            TorchvisionTrainer trainer = TorchvisionTrainer.tutorial(model, lr, Sampler.seeded(7));
            List<Tensor> images = List.of(rand(3, 60, 80), rand(3, 50, 90));
            List<Tensor> boxes = List.of(Tensors.fromFloats(new float[]{5, 6, 40, 50, 30, 10, 70, 45}, 2, 4),
                    Tensors.fromFloats(new float[]{10, 5, 60, 40}, 1, 4));
            List<Tensor> labels = List.of(Tensors.fromLongs(new long[]{1, 2}, 2), Tensors.fromLongs(new long[]{1}, 1));
            Map<String, Tensor> before = stateDict(model);
            double[] v = trainer.trainStep(images, boxes, labels);

            assertThat(v).hasSize(5);
            for (double x : v) assertThat(x).isFinite();
            assertThat(v[4]).isCloseTo(v[0] + v[1] + v[2] + v[3], org.assertj.core.data.Offset.offset(1e-5 * Math.abs(v[4])));
            Map<String, Tensor> params = new LinkedHashMap<>();
            var np = model.named_parameters(true);
            for (long i = 0; i < np.size(); i++) params.put(np.get(i).key().getString(), new Tensor(np.get(i).value()));
            int stepped = 0;
            try (NoGradGuard g = new NoGradGuard()) {
                for (Map.Entry<String, Tensor> e : params.entrySet()) {
                    Tensor p = e.getValue(), old = before.get(e.getKey());
                    if (!p.requires_grad()) {
                        assertThat(equal(p, old)).as(e.getKey() + " is frozen").isTrue();
                        continue;
                    }
                    assertThat(p.grad().defined()).as(e.getKey() + " has a gradient").isTrue();
                    Tensor expected = old.sub(p.grad().add(old.mul(new Scalar(TorchvisionTrainer.TUTORIAL_WEIGHT_DECAY)))
                            .mul(new Scalar(lr)));
                    double err = p.sub(expected).abs().max().item_double();
                    assertThat(err).as(e.getKey() + ": p - lr (grad + wd p)").isLessThanOrEqualTo(
                            1e-6 * Math.max(1.0, old.abs().max().item_double()));
                    stepped++;
                }
            }
            assertThat(stepped).isEqualTo(trainer.optimizer().groupCount());
            assertThat(params.get("backbone.body.conv1.weight").requires_grad()).isFalse();
            assertThat(params.get("backbone.body.layer2.0.conv1.weight").requires_grad()).isTrue();

            // A NaN logit: the step stops before backward and the optimizer step, naming torchvision's loss.
            Map<String, Tensor> beforeNan = stateDict(model);
            try (NoGradGuard g = new NoGradGuard()) {
                params.get("roi_heads.box_predictor.cls_score.bias").fill_(new Scalar(Double.NaN));
            }
            assertThatThrownBy(() -> trainer.trainStep(images, boxes, labels))
                    .isInstanceOf(NonFiniteLossException.class)
                    .hasMessageContaining("loss_classifier=NaN")
                    .satisfies(e -> assertThat(((NonFiniteLossException) e).nonFiniteLosses()).contains("loss_classifier"));
            assertThat(equal(params.get("rpn.head.conv.0.0.weight"), beforeNan.get("rpn.head.conv.0.0.weight")))
                    .as("no step after a non-finite loss").isTrue();

            List<Tensor> bad = List.of(boxes.get(0), Tensors.fromFloats(new float[]{10, 10, 10, 20}, 1, 4));
            assertThatThrownBy(() -> trainer.forward(images, bad, labels))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("positive height and width").hasMessageContaining("index 1");
            model.eval();
            assertThatThrownBy(() -> model.trainingForward(images, boxes))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("train()");
        }
    }
}
