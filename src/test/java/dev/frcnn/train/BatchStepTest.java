package dev.frcnn.train;

import dev.frcnn.config.Config;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code batch_size}: a step on a batch of images against the single-image steps of the same images, on the tests'
 * tiny detector with random weights and the fixtures' deterministic first-n sampling (so both runs choose the same
 * anchors and RoIs).
 *
 * <p>Tolerance: float32 convolutions on a batch of two may take another summation order than on one image
 * (oneDNN's blocking), so values agree to rounding, not bit for bit: losses within a relative 1e-5, every gradient
 * within 1e-4 of that parameter's largest gradient magnitude (per element, absolute).
 */
class BatchStepTest {
    private static final List<String> CLASSES = List.of("a", "b");
    private static final double LOSS_RTOL = 1e-5;
    private static final double GRAD_TOL = 1e-4;

    private static Config cfg;
    private static FasterRCNN model;
    private static FasterRCNNTrainer trainer;
    private static PointerScope scope;

    @BeforeAll
    static void model() {
        scope = new PointerScope();
        cfg = TinyModels.config(TinyModels.Size.SMALL);
        model = TinyModels.randomDetector(cfg, CLASSES);
        model.train(true);
        trainer = new FasterRCNNTrainer(model, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(), cfg.weightDecay(), false,
                Sampler.firstN(), cfg.roiNSample());
    }

    @AfterAll
    static void close() {
        scope.close();
    }

    private static Tensor image(long seed, int h, int w) {
        torch.manual_seed(seed);
        return torch.randn(3, h, w);
    }

    private static Tensor boxes(float... yxyx) {
        return Tensors.fromFloats(yxyx, yxyx.length / 4, 4);
    }

    private static Tensor labels(long... l) {
        return Tensors.fromLongs(l, l.length);
    }

    /** The gradient of every trainable parameter after the backward of {@code loss} (cloned), by name. */
    private static Map<String, Tensor> gradients(Tensor loss) {
        ConvolutionBackward.backward(loss);
        Map<String, Tensor> out = new LinkedHashMap<>();
        StringTensorDict np = model.named_parameters(true);
        for (long i = 0; i < np.size(); i++) {
            Tensor p = np.get(i).value();
            if (p.requires_grad()) out.put(np.get(i).key().getString(), p.grad().clone());
        }
        return out;
    }

    private static double[] values(FasterRCNNTrainer.Losses l) {
        return l.values();
    }

    @Test
    void aBatchOfTwoSameSizeImagesIsTheMeanOfTheirSingleImageSteps() {
        try (PointerScope s = new PointerScope()) {
            List<Tensor> imgs = List.of(image(11, 96, 128), image(12, 96, 128));
            List<Tensor> bboxes = List.of(boxes(10, 12, 50, 60, 40, 50, 90, 120), boxes(20, 30, 80, 100));
            List<Tensor> lbls = List.of(labels(0, 1), labels(1));
            double[] scales = {1.0, 0.8};

            List<double[]> single = new ArrayList<>();
            List<Map<String, Tensor>> singleGrads = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                model.zero_grad(true);
                FasterRCNNTrainer.Trace t = trainer.trace(imgs.get(i).unsqueeze(0), bboxes.get(i), lbls.get(i), scales[i]);
                single.add(values(t.losses()));
                singleGrads.add(gradients(t.losses().totalLoss()));
            }
            model.zero_grad(true);
            FasterRCNNTrainer.BatchTrace b = trainer.traceBatch(imgs, bboxes, lbls, scales);
            double[] batch = values(b.losses());
            Map<String, Tensor> batchGrads = gradients(b.losses().totalLoss());

            // 96 x 128 is a multiple of the stride 16: nothing is padded
            assertThat(Tensors.shape(b.batch().tensors())).containsExactly(2, 3, 96, 128);
            for (int k = 0; k < 5; k++) {
                String name = FasterRCNNTrainer.Losses.NAMES.get(k);
                double mean = (single.get(0)[k] + single.get(1)[k]) / 2;
                assertThat(batch[k]).as(name).isCloseTo(mean, org.assertj.core.api.Assertions.within(LOSS_RTOL * Math.abs(mean)));
                for (int i = 0; i < 2; i++) {
                    double own = values(b.images().get(i).losses())[k];
                    assertThat(own).as(name + " of image " + i).isCloseTo(single.get(i)[k],
                            org.assertj.core.api.Assertions.within(LOSS_RTOL * Math.abs(single.get(i)[k])));
                }
            }
            // the two images are not alike: the mean is a real average, not one image's value
            assertThat(Math.abs(single.get(0)[4] - single.get(1)[4])).isGreaterThan(1e-3);
            assertThat(batchGrads.keySet()).containsExactlyElementsOf(singleGrads.get(0).keySet());
            for (String name : batchGrads.keySet()) {
                Tensor expected = singleGrads.get(0).get(name).add(singleGrads.get(1).get(name)).div(new org.bytedeco.pytorch.Scalar(2.0));
                double scale = expected.abs().max().item_double();
                double diff = batchGrads.get(name).sub(expected).abs().max().item_double();
                assertThat(diff).as("gradient of " + name + " (largest |g| " + scale + ")").isLessThanOrEqualTo(GRAD_TOL * scale + 1e-12);
            }
        }
    }

    @Test
    void aBatchOfOneIsTheReferenceStep() {
        try (PointerScope s = new PointerScope()) {
            Tensor img = image(13, 100, 130);
            Tensor bbox = boxes(10, 12, 50, 60);
            Tensor label = labels(1);
            model.zero_grad(true);
            FasterRCNNTrainer.Trace t = trainer.trace(img.unsqueeze(0), bbox.unsqueeze(0), label.unsqueeze(0), 1.0);
            double[] single = values(t.losses());
            Map<String, Tensor> singleGrads = gradients(t.losses().totalLoss());
            model.zero_grad(true);
            FasterRCNNTrainer.BatchTrace b = trainer.traceBatch(List.of(img), List.of(bbox), List.of(label), new double[]{1.0});
            // not padded to a multiple of the stride: the reference's input, bit for bit the same losses and gradients
            assertThat(Tensors.shape(b.batch().tensors())).containsExactly(1, 3, 100, 130);
            assertThat(values(b.losses())).containsExactly(single);
            Map<String, Tensor> batchGrads = gradients(b.losses().totalLoss());
            for (String name : singleGrads.keySet()) {
                assertThat(batchGrads.get(name).equal(singleGrads.get(name))).as("gradient of " + name).isTrue();
            }
        }
    }

    @Test
    void badBatchesAreRefused() {
        Tensor img = image(14, 96, 128);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> trainer.traceBatch(List.of(img, img), List.of(boxes(1, 1, 9, 9)),
                List.of(labels(0)), new double[]{1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 images, 1 boxes");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> trainer.traceBatch(List.of(img, img),
                        List.of(boxes(1, 1, 9, 9), Tensors.fromFloats(new float[0], 0, 4)), List.of(labels(0), Tensors.fromLongs(new long[0], 0)),
                        new double[]{1, 1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("image 1 of the batch");
    }

    @Test
    void stepsPerEpochRoundUp() {
        assertThat(SimpleTrainer.stepsPerEpoch(5, 1)).isEqualTo(5);
        assertThat(SimpleTrainer.stepsPerEpoch(5, 2)).isEqualTo(3);
        assertThat(SimpleTrainer.stepsPerEpoch(4, 2)).isEqualTo(2);
        assertThat(SimpleTrainer.stepsPerEpoch(1, 4)).isEqualTo(1);
    }
}
