package dev.frcnn.testing;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** Comparisons of tensors against fixture data with the tolerances of {@code shared/golden/README.md}. */
public final class TensorAssert {
    private TensorAssert() {}

    /** Shape equality. */
    public static void assertShape(Tensor actual, long[] expected, String what) {
        assertThat(Tensors.shape(actual)).as(what + " shape").containsExactly(expected);
    }

    /** Exact equality of integer/bool data. */
    public static void assertExact(Tensor actual, long[] expected, String what) {
        long[] a = Tensors.toLongArray(actual);
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        for (int i = 0; i < a.length; i++) {
            if (a[i] != expected[i]) {
                fail(what + ": first difference at flat index " + i + ": got " + a[i] + ", expected "
                        + expected[i] + " (" + mismatches(a, expected) + " mismatches of " + a.length + ")");
            }
        }
    }

    private static int mismatches(long[] a, long[] b) {
        int n = 0;
        for (int i = 0; i < a.length; i++) if (a[i] != b[i]) n++;
        return n;
    }

    /**
     * True when {@code a} and {@code b} are the same non-finite value (both NaN, or the same infinity). The fixtures
     * store NaN only where the reference itself yields NaN (eval_voc), and no infinities.
     */
    static boolean sameNonFinite(double a, double b) {
        return (Double.isNaN(a) && Double.isNaN(b)) || (Double.isInfinite(a) && a == b);
    }

    /** True when either value is NaN or infinite. */
    static boolean nonFinite(double a, double b) {
        return !Double.isFinite(a) || !Double.isFinite(b);
    }

    /**
     * One scalar check: {@code |actual - expected| <= allowed}; a NaN or infinity on either side fails unless both
     * sides are the same non-finite value.
     */
    public static void assertScalarClose(double actual, double expected, double allowed, String what) {
        if (nonFinite(actual, expected)) {
            if (!sameNonFinite(actual, expected)) fail(what + ": got " + actual + ", expected " + expected + " (non-finite)");
            return;
        }
        double d = Math.abs(actual - expected);
        if (!(d <= allowed)) fail(what + ": got " + actual + ", expected " + expected + " (|diff| " + d + " > " + allowed + ")");
    }

    /**
     * Numeric equality ({@code ==}, so -0.0 equals 0.0) of float data. A NaN or infinity matches only the same
     * non-finite value in {@code expected}.
     */
    public static void assertExact(Tensor actual, float[] expected, String what) {
        assertAllClose(actual, expected, 0.0, 0.0, what);
    }

    /**
     * Elementwise {@code |a - b| <= atol + rtol * |b|}. A NaN or infinity on either side fails unless both sides are
     * the same non-finite value.
     */
    public static void assertAllClose(Tensor actual, float[] expected, double atol, double rtol, String what) {
        assertAllClose(Tensors.toFloatArray(actual), expected, atol, rtol, what);
    }

    /** {@link #assertAllClose(Tensor, float[], double, double, String)} on host data. */
    public static void assertAllClose(float[] a, float[] expected, double atol, double rtol, String what) {
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        int bad = 0, first = -1;
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            boolean ok;
            if (nonFinite(a[i], expected[i])) {
                ok = sameNonFinite(a[i], expected[i]);
            } else {
                double d = Math.abs((double) a[i] - expected[i]);
                ok = d <= atol + rtol * Math.abs(expected[i]);
                worst = Math.max(worst, d);
            }
            if (!ok) {
                bad++;
                if (first < 0) first = i;
            }
        }
        if (bad > 0) {
            fail(what + ": " + bad + " of " + a.length + " elements outside atol " + atol + " rtol " + rtol
                    + "; first at flat index " + first + ": got " + a[first] + ", expected " + expected[first]
                    + "; max |diff| of the finite pairs " + worst);
        }
    }

    /**
     * Per-tensor scaled tolerance: {@code max|a - b| <= tol * max(floor, max|b|)}. Any NaN or infinity (on either
     * side, not the same non-finite value on both) fails.
     */
    public static void assertScaledClose(Tensor actual, float[] expected, double tol, double floor, String what) {
        assertScaledClose(Tensors.toFloatArray(actual), expected, tol, floor, what);
    }

    /** {@link #assertScaledClose(Tensor, float[], double, double, String)} on host data. */
    public static void assertScaledClose(float[] a, float[] expected, double tol, double floor, String what) {
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        double maxRef = floor, maxDiff = 0;
        int at = -1;
        for (int i = 0; i < a.length; i++) {
            if (nonFinite(a[i], expected[i])) {
                if (sameNonFinite(a[i], expected[i])) continue;
                fail(what + ": non-finite value at flat index " + i + ": got " + a[i] + ", expected " + expected[i]);
            }
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
            double d = Math.abs((double) a[i] - expected[i]);
            if (d > maxDiff) { maxDiff = d; at = i; }
        }
        if (!(maxDiff <= tol * maxRef)) {
            fail(what + ": max |diff| " + maxDiff + " at flat index " + at + " (got " + a[at] + ", expected "
                    + expected[at] + ") exceeds " + tol + " * " + maxRef);
        }
    }

    /**
     * Elementwise {@code |a - b| <= tol * max(1, |b|)}; a NaN or infinity fails unless both sides are the same
     * non-finite value.
     */
    public static void assertRelFloor1(Tensor actual, float[] expected, double tol, String what) {
        assertRelFloor1(Tensors.toFloatArray(actual), expected, tol, what);
    }

    /** {@link #assertRelFloor1(Tensor, float[], double, String)} on host data. */
    public static void assertRelFloor1(float[] a, float[] expected, double tol, String what) {
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        for (int i = 0; i < a.length; i++) {
            assertScalarClose(a[i], expected[i], tol * Math.max(1.0, Math.abs(expected[i])), what + "[" + i + "]");
        }
    }

    /**
     * Row-wise {@code |a - b| <= tol * max(1, max_j |b_row,j|)} for (R, C) data; a NaN or infinity fails unless both
     * sides are the same non-finite value.
     */
    public static void assertRowScaled(Tensor actual, float[] expected, int cols, double tol, String what) {
        assertRowScaled(Tensors.toFloatArray(actual), expected, cols, tol, what);
    }

    /** {@link #assertRowScaled(Tensor, float[], int, double, String)} on host data. */
    public static void assertRowScaled(float[] a, float[] expected, int cols, double tol, String what) {
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        for (int r = 0; r * cols < a.length; r++) {
            double scale = 1.0;
            for (int j = 0; j < cols; j++) {
                float e = expected[r * cols + j];
                if (Float.isFinite(e)) scale = Math.max(scale, Math.abs(e));
            }
            for (int j = 0; j < cols; j++) {
                int i = r * cols + j;
                assertScalarClose(a[i], expected[i], tol * scale, what + ": row " + r + " col " + j);
            }
        }
    }

    public static String head(float[] v, int n) {
        return Arrays.toString(Arrays.copyOf(v, Math.min(n, v.length)));
    }
}
