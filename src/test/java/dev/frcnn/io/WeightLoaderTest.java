package dev.frcnn.io;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.bytedeco.pytorch.global.torch.zeros;

/** {@link WeightLoader} on a tiny module: a Linear(3, 2) as {@code fc} plus an int64 buffer {@code count}. */
class WeightLoaderTest {

    static final class Tiny extends Module {
        final LinearImpl fc;

        Tiny() {
            super("Tiny");
            fc = register_module("fc", new LinearImpl(3, 2));
            register_buffer("count", zeros(new long[]{3}, new TensorOptions(ScalarType.Long)));
        }
    }

    private static Tensor doubles(double[] v, long... shape) {
        return Tensors.fromDoubles(v, shape);
    }

    private static Map<String, Tensor> goodStateDict() {
        Map<String, Tensor> sd = new LinkedHashMap<>();
        sd.put("fc.weight", doubles(new double[]{1, 2, 3, 4, 5, 6}, 2, 3));                 // float64 -> float32
        sd.put("fc.bias", Tensors.fromFloats(new float[]{0.5f, -0.5f}, 2));
        sd.put("count", Tensors.fromLongs(new long[]{7, 8, 9}, 3).to(ScalarType.Int));     // int32 -> int64
        return sd;
    }

    @Test
    void copiesByNameAndConvertsDtype() {
        try (PointerScope s = new PointerScope()) {
            Tiny m = new Tiny();
            WeightLoader.LoadResult r = WeightLoader.load(m, goodStateDict(), true);
            assertThat(r.missingKeys()).isEmpty();
            assertThat(r.unexpectedKeys()).isEmpty();
            assertThat(Tensors.isType(m.fc.weight(), ScalarType.Float)).isTrue();
            assertThat(Tensors.toFloatArray(m.fc.weight())).containsExactly(1f, 2f, 3f, 4f, 5f, 6f);
            assertThat(Tensors.toFloatArray(m.fc.bias())).containsExactly(0.5f, -0.5f);
            Tensor count = m.named_buffers(true).get("count");
            assertThat(Tensors.isType(count, ScalarType.Long)).isTrue();
            assertThat(Tensors.toLongArray(count)).containsExactly(7L, 8L, 9L);
            assertThat(m.fc.weight().requires_grad()).as("still a trainable parameter").isTrue();
        }
    }

    @Test
    void strictReportsEveryProblemAtOnceAndCopiesNothing() {
        try (PointerScope s = new PointerScope()) {
            Tiny m = new Tiny();
            float[] before = Tensors.toFloatArray(m.fc.weight());
            Map<String, Tensor> sd = new LinkedHashMap<>();
            sd.put("fc.weight", Tensors.fromFloats(new float[9], 3, 3));       // shape mismatch
            sd.put("count", Tensors.fromLongs(new long[]{1, 2, 3}, 3));        // fine
            sd.put("fc.extra", Tensors.fromFloats(new float[]{1f}, 1));        // unexpected
            sd.put("head.score.weight", Tensors.fromFloats(new float[]{1f}, 1)); // unexpected
            // fc.bias missing
            WeightsMismatchException e = catchThrowableOfType(WeightsMismatchException.class,
                    () -> WeightLoader.load(m, sd, true));
            assertThat(e).isNotNull();
            assertThat(e.missingKeys()).containsExactly("fc.bias");
            assertThat(e.unexpectedKeys()).containsExactly("fc.extra", "head.score.weight");
            assertThat(e.shapeMismatches()).hasSize(1);
            assertThat(e.getMessage())
                    .contains("Tiny")
                    .contains("Missing key(s): fc.bias")
                    .contains("Unexpected key(s): fc.extra, head.score.weight")
                    .contains("size mismatch for fc.weight")
                    .contains("[3, 3]").contains("[2, 3]");
            assertThat(Tensors.toFloatArray(m.fc.weight())).containsExactly(before);
            assertThat(Tensors.toLongArray(m.named_buffers(true).get("count"))).containsExactly(0L, 0L, 0L);
        }
    }

    @Test
    void nonStrictSkipsMissingAndUnexpectedKeys() {
        try (PointerScope s = new PointerScope()) {
            Tiny m = new Tiny();
            Map<String, Tensor> sd = goodStateDict();
            sd.remove("fc.bias");
            sd.put("extra", Tensors.fromFloats(new float[]{1f}, 1));
            WeightLoader.LoadResult r = WeightLoader.load(m, sd, false);
            assertThat(r.missingKeys()).containsExactly("fc.bias");
            assertThat(r.unexpectedKeys()).containsExactly("extra");
            assertThat(Tensors.toFloatArray(m.fc.weight())).containsExactly(1f, 2f, 3f, 4f, 5f, 6f);
        }
    }

    @Test
    void nonStrictStillRejectsShapeMismatch() {
        try (PointerScope s = new PointerScope()) {
            Tiny m = new Tiny();
            Map<String, Tensor> sd = goodStateDict();
            sd.put("fc.bias", Tensors.fromFloats(new float[]{1f, 2f, 3f}, 3));
            WeightsMismatchException e = catchThrowableOfType(WeightsMismatchException.class,
                    () -> WeightLoader.load(m, sd, false));
            assertThat(e).isNotNull();
            assertThat(e.getMessage()).contains("size mismatch for fc.bias").contains("[3]").contains("[2]");
            assertThat(e.missingKeys()).isEmpty();
        }
    }
}
