package dev.frcnn.ops;

import dev.frcnn.testing.Cuda;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.frcnn.testing.Cuda.fromCuda;
import static dev.frcnn.testing.Cuda.toCuda;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The NMS, RoIPool and RoIAlign fixtures replayed on the GPU (the CUDA kernels), with the CPU tests' tolerances:
 * NMS keep indices exact, RoIPool output and argmax exact and its input gradient atol 1e-5, RoIAlign output and
 * input gradient within 1e-5 of the tensor's max (CUDA's atomic adds reorder the sums). Skipped, with the reason,
 * where CUDA is not available.
 */
@Tag("cuda")
class CudaOpsReplayTest {
    @BeforeEach
    void requireCuda() {
        Cuda.assumeAvailable();
    }

    @Test
    void nmsKeepsExactlyTheFixturesIndices() {
        Golden g = Golden.load("nms.json");
        var cases = NmsParityTest.cases(g);
        assertThat(cases).isNotEmpty();
        for (NmsParityTest.Case c : cases) {
            try (PointerScope s = new PointerScope()) {
                String[] in = NmsParityTest.inputs(c.prefix());
                Tensor keep = Nms.nms(toCuda(g.tensor(in[0])), toCuda(g.tensor(in[1])), c.threshold());
                TensorAssert.assertExact(fromCuda(keep, c.keepName()), g.longs(c.keepName()), "cuda " + c.keepName());
            }
        }
    }

    @Test
    void roiPoolForwardArgmaxAndGradient() {
        Golden g = Golden.load("roi_pool.json");
        RoIPool pool = RoIPoolParityTest.pool(g);
        try (PointerScope s = new PointerScope()) {
            RoIPool.Pooled p = pool.forwardWithArgmax(toCuda(g.tensor("x")), toCuda(g.tensor("indices_and_rois_xy")));
            TensorAssert.assertExact(fromCuda(p.output(), "output"), g.floats("output"), "cuda output");
            TensorAssert.assertExact(fromCuda(p.argmax(), "argmax"), g.longs("argmax"), "cuda argmax");
            Tensor x = toCuda(g.tensor("x")).requires_grad_(true);
            Tensor out = pool.forward(x, toCuda(g.tensor("indices_and_rois_xy")));
            TensorAssert.assertExact(fromCuda(out, "autograd output"), g.floats("output"), "cuda output (autograd path)");
            out.mul(toCuda(g.tensor("grad_output"))).sum().backward();
            TensorAssert.assertAllClose(fromCuda(x.grad(), "grad_input"), g.floats("grad_input"), 1e-5, 0.0, "cuda grad_input");
        }
    }

    @Test
    void roiAlignForwardAndGradient() {
        Golden g = Golden.load("roi_align.json");
        for (RoIAlignParityTest.Setting st : RoIAlignParityTest.settings(g)) {
            try (PointerScope s = new PointerScope()) {
                RoIAlign op = RoIAlignParityTest.op(g, st);
                Tensor rois = toCuda(g.tensor("rois"));
                Tensor native_ = op.forward(toCuda(g.tensor("x")), rois);   // no grad: the native CUDA kernel
                TensorAssert.assertScaledClose(fromCuda(native_, "output"), g.floats("output_" + st.name()), 1e-5, 0.0,
                        "cuda output_" + st.name());
                Tensor gi = op.backward(toCuda(g.tensor("grad_output_" + st.name())), rois, g.shape("x"));
                TensorAssert.assertScaledClose(fromCuda(gi, "native grad_input"), g.floats("grad_input_" + st.name()), 1e-5,
                        0.0, "cuda native grad_input_" + st.name());
                Tensor x = toCuda(g.tensor("x")).requires_grad_(true);
                Tensor out = op.forward(x, rois);
                TensorAssert.assertScaledClose(fromCuda(out, "autograd output"), g.floats("output_" + st.name()), 1e-5,
                        0.0, "cuda autograd output_" + st.name());
                out.mul(toCuda(g.tensor("grad_output_" + st.name()))).sum().backward();
                TensorAssert.assertScaledClose(fromCuda(x.grad(), "grad_input"), g.floats("grad_input_" + st.name()), 1e-5,
                        0.0, "cuda grad_input_" + st.name());
            }
        }
    }
}
