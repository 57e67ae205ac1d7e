package dev.frcnn.ops;

import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.cat;

/**
 * {@link RoIPool} against {@code roi_pool.json} (torchvision.ops.RoIPool((7,7), 1/16) as called by the reference's
 * VGG16RoIHead): output and argmax exact, grad_input within atol 1e-5 through autograd and through the native
 * backward.
 */
class RoIPoolParityTest {
    static RoIPool pool(Golden g) {
        return new RoIPool(g.params().get("pooled_h").asInt(), g.params().get("pooled_w").asInt(),
                g.params().get("spatial_scale").asDouble());
    }

    /** The head's swap: (index, ymin, xmin, ymax, xmax) with columns [0, 2, 1, 4, 3] → (index, x1, y1, x2, y2). */
    static Tensor headRois(Golden g) {
        Tensor rois = g.tensor("rois");
        Tensor idx = g.tensor("roi_indices").to(org.bytedeco.pytorch.global.torch.ScalarType.Float).view(-1, 1);
        Tensor yx = cat(new org.bytedeco.pytorch.TensorVector(idx, rois), 1);
        return yx.index_select(1, Tensors.fromLongs(new long[]{0, 2, 1, 4, 3}, 5)).contiguous();
    }

    @Test
    void fixtureRoisAreTheHeadsSwappedRois() {
        Golden g = Golden.load("roi_pool.json");
        try (PointerScope s = new PointerScope()) {
            TensorAssert.assertShape(headRois(g), g.shape("indices_and_rois_xy"), "indices_and_rois_xy");
            TensorAssert.assertExact(headRois(g), g.floats("indices_and_rois_xy"), "indices_and_rois_xy");
        }
    }

    @Test
    void forwardOutputAndArgmaxAreExact() {
        Golden g = Golden.load("roi_pool.json");
        try (PointerScope s = new PointerScope()) {
            RoIPool pool = pool(g);
            RoIPool.Pooled p = pool.forwardWithArgmax(g.tensor("x"), g.tensor("indices_and_rois_xy"));
            TensorAssert.assertShape(p.output(), g.shape("output"), "output");
            TensorAssert.assertExact(p.output(), g.floats("output"), "output");
            TensorAssert.assertExact(p.argmax(), g.longs("argmax"), "argmax");
            // the public forward (no grad: the native output) and the head's own swap give the same
            TensorAssert.assertExact(pool.forward(g.tensor("x"), headRois(g)), g.floats("output"), "forward");
        }
    }

    @Test
    void autogradBackwardMatchesGradInput() {
        Golden g = Golden.load("roi_pool.json");
        try (PointerScope s = new PointerScope()) {
            Tensor x = g.tensor("x").requires_grad_(true);
            Tensor out = pool(g).forward(x, g.tensor("indices_and_rois_xy"));
            assertThat(out.requires_grad()).isTrue();
            TensorAssert.assertExact(out, g.floats("output"), "output (autograd path)");
            out.mul(g.tensor("grad_output")).sum().backward();
            TensorAssert.assertShape(x.grad(), g.shape("grad_input"), "grad_input");
            TensorAssert.assertAllClose(x.grad(), g.floats("grad_input"), 1e-5, 0.0, "grad_input (autograd)");
        }
    }

    @Test
    void nativeBackwardMatchesGradInput() {
        Golden g = Golden.load("roi_pool.json");
        try (PointerScope s = new PointerScope()) {
            Tensor x = g.tensor("x");
            RoIPool.Pooled p = pool(g).forwardWithArgmax(x, g.tensor("indices_and_rois_xy"));
            Tensor gi = RoIPool.backward(g.tensor("grad_output"), p.argmax(), g.tensor("indices_and_rois_xy"),
                    Tensors.shape(x));
            TensorAssert.assertShape(gi, g.shape("grad_input"), "grad_input");
            TensorAssert.assertAllClose(gi, g.floats("grad_input"), 1e-5, 0.0, "grad_input (native backward)");
        }
    }
}
