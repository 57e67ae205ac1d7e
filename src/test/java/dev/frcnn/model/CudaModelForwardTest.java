package dev.frcnn.model;

import dev.frcnn.tensor.Precision;
import dev.frcnn.testing.Cuda;
import dev.frcnn.testing.FormulaWeights;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.IntStream;

import static dev.frcnn.testing.Cuda.fromCuda;
import static dev.frcnn.testing.Cuda.toCuda;

/**
 * model_forward.json replayed on the GPU: the VGG16 Faster R-CNN with the formula weights, moved to CUDA, gives the
 * fixture's features, rois (count and order exact, atol 2e-3 px) and head outputs (1e-5 of the tensor's max), as
 * {@link ModelForwardParityTest} checks on the CPU. Skipped, with the reason, where CUDA is not available.
 */
@Tag("cuda")
class CudaModelForwardTest {
    @Test
    void forwardOnTheGpuMatchesTheFixture() {
        Cuda.assumeAvailable();
        Golden g = Golden.load("model_forward.json");
        int nFg = g.params().get("n_fg_class").asInt();
        List<String> names = IntStream.range(0, nFg).mapToObj(i -> "c" + i).toList();
        FasterRCNNVGG16 model = new FasterRCNNVGG16(nFg, new double[]{0.5, 1, 2}, new double[]{8, 16, 32}, false, names, Precision.FP32);
        FormulaWeights.fill(model, g);
        model.eval();
        model.to(Cuda.device(), false);
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            var features = model.extract(toCuda(g.tensor("input")));
            TensorAssert.assertScaledClose(fromCuda(features, "features"), g.floats("features"), 1e-5, 0, "cuda features");
            FasterRCNN.Output o = model.forward(toCuda(g.tensor("input")), g.params().get("scale").asDouble());
            TensorAssert.assertShape(o.rois(), g.shape("rois"), "cuda rois shape (count)");
            TensorAssert.assertAllClose(fromCuda(o.rois(), "rois"), g.floats("rois"), 2e-3, 0, "cuda rois");
            TensorAssert.assertExact(fromCuda(o.roiIndices(), "roi_indices"), g.longs("roi_indices"), "cuda roi_indices");
            TensorAssert.assertScaledClose(fromCuda(o.roiClsLocs(), "roi_cls_locs"), g.floats("roi_cls_locs"), 1e-5, 0,
                    "cuda roi_cls_locs");
            TensorAssert.assertScaledClose(fromCuda(o.roiScores(), "roi_scores"), g.floats("roi_scores"), 1e-5, 0,
                    "cuda roi_scores");
        }
    }
}
