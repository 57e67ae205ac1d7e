package dev.frcnn.ops;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link RoIAlign} against {@code roi_align.json} ({@code torchvision.ops.roi_align} forward + input gradient) for
 * every setting listed in {@code params.settings}: the grid exact; the native forward bit-exact (torchvision's CPU
 * kernel order); the autograd forward and the input gradient (autograd and native backward) within
 * {@code max|a-b| <= 1e-5 * max|b|} (README tolerance).
 */
class RoIAlignParityTest {
    private static final String FIXTURE = "roi_align.json";
    private static final double SCALED = 1e-5;

    record Setting(String name, int samplingRatio, boolean aligned) {}

    static List<Setting> settings(Golden g) {
        List<Setting> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = g.params().path("settings").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            out.add(new Setting(e.getKey(), e.getValue().get("sampling_ratio").asInt(),
                    e.getValue().get("aligned").asBoolean()));
        }
        assertThat(out).as("params.settings").isNotEmpty();
        return out;
    }

    static RoIAlign op(Golden g, Setting s) {
        return new RoIAlign(g.params().get("pooled_h").asInt(), g.params().get("pooled_w").asInt(),
                g.params().get("spatial_scale").asDouble(), s.samplingRatio(), s.aligned());
    }

    @Test
    void gridIsExact() {
        Golden g = Golden.load(FIXTURE);
        for (Setting st : settings(g)) {
            try (PointerScope s = new PointerScope()) {
                Tensor x = g.tensor("x");
                Tensor grid = op(g, st).grid(g.tensor("rois"), x.size(0));
                TensorAssert.assertShape(grid, g.shape("grid_hw_" + st.name()), "grid_hw_" + st.name());
                TensorAssert.assertExact(grid, g.longs("grid_hw_" + st.name()), "grid_hw_" + st.name());
            }
        }
    }

    @Test
    void nativeForwardIsBitExact() {
        Golden g = Golden.load(FIXTURE);
        for (Setting st : settings(g)) {
            try (PointerScope s = new PointerScope()) {
                Tensor out = op(g, st).forward(g.tensor("x"), g.tensor("rois"));   // no grad: native path
                TensorAssert.assertShape(out, g.shape("output_" + st.name()), "output_" + st.name());
                TensorAssert.assertExact(out, g.floats("output_" + st.name()), "output_" + st.name());
            }
        }
    }

    @Test
    void differentiableForwardAndAutogradGradInputMatch() {
        Golden g = Golden.load(FIXTURE);
        for (Setting st : settings(g)) {
            try (PointerScope s = new PointerScope()) {
                Tensor x = g.tensor("x").requires_grad_(true);
                Tensor out = op(g, st).forward(x, g.tensor("rois"));
                assertThat(out.requires_grad()).as("autograd path").isTrue();
                TensorAssert.assertShape(out, g.shape("output_" + st.name()), "output_" + st.name());
                TensorAssert.assertScaledClose(out, g.floats("output_" + st.name()), SCALED, 0.0,
                        "autograd output_" + st.name());
                out.mul(g.tensor("grad_output_" + st.name())).sum().backward();
                TensorAssert.assertShape(x.grad(), g.shape("grad_input_" + st.name()), "grad_input_" + st.name());
                TensorAssert.assertScaledClose(x.grad(), g.floats("grad_input_" + st.name()), SCALED, 0.0,
                        "autograd grad_input_" + st.name());
            }
        }
    }

    @Test
    void nativeBackwardMatchesGradInput() {
        Golden g = Golden.load(FIXTURE);
        for (Setting st : settings(g)) {
            try (PointerScope s = new PointerScope()) {
                Tensor x = g.tensor("x");
                Tensor gi = op(g, st).backward(g.tensor("grad_output_" + st.name()), g.tensor("rois"),
                        g.shape("x"));
                TensorAssert.assertShape(gi, g.shape("grad_input_" + st.name()), "grad_input_" + st.name());
                // the native CPU backward follows torchvision's accumulation order
                TensorAssert.assertExact(gi, g.floats("grad_input_" + st.name()), "native grad_input_" + st.name());
                assertThat(x.size(0)).isPositive();
            }
        }
    }

    @Test
    void badInputIsRejected() {
        try (PointerScope s = new PointerScope()) {
            Golden g = Golden.load(FIXTURE);
            RoIAlign op = op(g, settings(g).get(0));
            Tensor x = g.tensor("x");
            Tensor rois = g.tensor("rois").clone();
            rois.get(0).get(0).fill_(new org.bytedeco.pytorch.Scalar(x.size(0) + 0.5));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> op.forward(x, rois))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batch index");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> op.forward(x, g.tensor("rois").narrow(1, 0, 4)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(R, 5)");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new RoIAlign(0, 7, 0.0625, 0, false))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void emptyRoisGiveAnEmptyOutputConnectedToTheGraph() {
        try (PointerScope s = new PointerScope()) {
            Golden g = Golden.load(FIXTURE);
            RoIAlign op = op(g, settings(g).get(0));
            Tensor x = g.tensor("x").requires_grad_(true);
            Tensor out = op.forward(x, g.tensor("rois").narrow(0, 0, 0));
            assertThat(out.size(0)).isZero();
            assertThat(out.size(1)).isEqualTo(x.size(1));
            out.sum().backward();
            assertThat(x.grad().abs().sum().item_float()).isZero();
        }
    }
}
