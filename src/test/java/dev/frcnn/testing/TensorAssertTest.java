package dev.frcnn.testing;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The comparators must fail on a NaN or infinity anywhere, and pass on the same non-finite value on both sides. */
class TensorAssertTest {
    private static final float NAN = Float.NaN, INF = Float.POSITIVE_INFINITY;

    /** A NaN at the start, middle and end of the data, followed by finite differences. */
    private static float[][] nanAt(int i) {
        float[] expected = {1f, 2f, 3f, 4f, 5f};
        float[] actual = expected.clone();
        actual[i] = NAN;
        actual[4 - (i == 4 ? 1 : 0)] += 1e-7f;   // a later (or earlier) finite difference that is in tolerance
        return new float[][]{actual, expected};
    }

    @Test
    void scaledCloseFailsOnNaNAnywhere() {
        for (int i = 0; i < 5; i++) {
            float[][] ae = nanAt(i);
            int at = i;
            assertThatThrownBy(() -> TensorAssert.assertScaledClose(ae[0], ae[1], 1e-5, 0, "t"))
                    .as("NaN at " + at).isInstanceOf(AssertionError.class).hasMessageContaining("non-finite");
            assertThatThrownBy(() -> TensorAssert.assertScaledClose(ae[1], ae[0], 1e-5, 0, "t"))
                    .as("NaN expected at " + at).isInstanceOf(AssertionError.class);
        }
    }

    @Test
    void everyComparatorFailsOnNaNAndInfinity() {
        float[] expected = {1f, 2f, 3f, 4f};
        for (float bad : new float[]{NAN, INF, -INF}) {
            float[] actual = {1f, bad, 3f, 4f};
            assertThatThrownBy(() -> TensorAssert.assertScaledClose(actual, expected, 1e-5, 0, "t")).isInstanceOf(AssertionError.class);
            assertThatThrownBy(() -> TensorAssert.assertAllClose(actual, expected, 1e-3, 1e-3, "t")).isInstanceOf(AssertionError.class);
            assertThatThrownBy(() -> TensorAssert.assertRelFloor1(actual, expected, 1e-3, "t")).isInstanceOf(AssertionError.class);
            assertThatThrownBy(() -> TensorAssert.assertRowScaled(actual, expected, 2, 1e-3, "t")).isInstanceOf(AssertionError.class);
            assertThatThrownBy(() -> TensorAssert.assertScalarClose(bad, 2.0, 1e-3, "t")).isInstanceOf(AssertionError.class);
            // The reverse: a non-finite value in the expected data must not be matched by a finite one.
            assertThatThrownBy(() -> TensorAssert.assertAllClose(expected, actual, 1e-3, 1e-3, "t")).isInstanceOf(AssertionError.class);
            assertThatThrownBy(() -> TensorAssert.assertRowScaled(expected, actual, 2, 1e-3, "t")).isInstanceOf(AssertionError.class);
        }
        // Infinities of opposite sign differ.
        assertThatThrownBy(() -> TensorAssert.assertScalarClose(INF, -INF, 1e-3, "t")).isInstanceOf(AssertionError.class);
        assertThatThrownBy(() -> TensorAssert.assertAllClose(new float[]{INF}, new float[]{-INF}, 1, 1, "t"))
                .isInstanceOf(AssertionError.class);
    }

    @Test
    void sameNonFiniteOnBothSidesPasses() {
        float[] v = {1f, NAN, INF, -INF};
        assertThatCode(() -> TensorAssert.assertScaledClose(v, v.clone(), 1e-5, 0, "t")).doesNotThrowAnyException();
        assertThatCode(() -> TensorAssert.assertAllClose(v, v.clone(), 0, 0, "t")).doesNotThrowAnyException();
        assertThatCode(() -> TensorAssert.assertRelFloor1(v, v.clone(), 0, "t")).doesNotThrowAnyException();
        assertThatCode(() -> TensorAssert.assertRowScaled(v, v.clone(), 2, 0, "t")).doesNotThrowAnyException();
        assertThatCode(() -> TensorAssert.assertScalarClose(Double.NaN, Double.NaN, 0, "t")).doesNotThrowAnyException();
    }

    @Test
    void finiteDifferencesAreStillChecked() {
        float[] expected = {1f, -2f, 100f, 0f};
        float[] actual = {1f, -2f, 100.1f, 0f};
        assertThatThrownBy(() -> TensorAssert.assertScaledClose(actual, expected, 1e-5, 0, "t"))
                .hasMessageContaining("flat index 2");
        assertThatCode(() -> TensorAssert.assertScaledClose(actual, expected, 1e-3, 0, "t")).doesNotThrowAnyException();
        assertThatThrownBy(() -> TensorAssert.assertAllClose(actual, expected, 1e-3, 0, "t")).hasMessageContaining("flat index 2");
        assertThatThrownBy(() -> TensorAssert.assertRelFloor1(actual, expected, 1e-4, "t")).hasMessageContaining("[2]");
        assertThatThrownBy(() -> TensorAssert.assertRowScaled(actual, expected, 2, 1e-4, "t")).hasMessageContaining("row 1 col 0");
        // -0.0 equals 0.0.
        assertThatCode(() -> TensorAssert.assertAllClose(new float[]{-0f}, new float[]{0f}, 0, 0, "t")).doesNotThrowAnyException();
    }
}
