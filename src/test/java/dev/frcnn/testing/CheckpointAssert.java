package dev.frcnn.testing;

import dev.frcnn.io.Checkpoints;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Comparisons of whole checkpoint files: the resume tests' "ends with the uninterrupted run's weights". */
public final class CheckpointAssert {
    private CheckpointAssert() {}

    /**
     * Asserts that {@code actual} holds the tensors of {@code expected}: the same names in the same order, and in each
     * the same dtype, shape and values bit for bit (a NaN equals only the same NaN).
     *
     * @param what names the comparison in the failure, e.g. "the resumed run against the uninterrupted one"
     * @throws IOException if a file cannot be read
     */
    public static void assertSameTensors(Path expected, Path actual, String what) throws IOException {
        try (PointerScope s = new PointerScope()) {
            var x = Checkpoints.load(expected).tensors();
            var y = Checkpoints.load(actual).tensors();
            assertThat(y.keySet()).as("tensor names of %s (%s against %s)", what, actual, expected)
                    .containsExactlyElementsOf(x.keySet());
            for (String k : x.keySet()) {
                Tensor a = x.get(k), b = y.get(k);
                assertThat(Tensors.typeName(b)).as("dtype of %s, %s", k, what).isEqualTo(Tensors.typeName(a));
                assertThat(Tensors.shape(b)).as("shape of %s, %s", k, what).containsExactly(Tensors.shape(a));
                float[] wa = Tensors.toFloatArray(a), wb = Tensors.toFloatArray(b);
                int differing = 0, first = -1;
                for (int i = 0; i < wa.length; i++) {
                    if (Float.floatToRawIntBits(wa[i]) != Float.floatToRawIntBits(wb[i])) {
                        if (first < 0) first = i;
                        differing++;
                    }
                }
                assertThat(differing).as("elements of %s that differ, %s (first at %d: %s against %s)", k, what,
                        first, first < 0 ? "" : wb[first], first < 0 ? "" : wa[first]).isZero();
            }
        }
    }
}
