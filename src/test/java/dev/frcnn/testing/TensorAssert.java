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

    /** Numeric equality ({@code ==}, so -0.0 equals 0.0) of float data. NaN equals NaN. */
    public static void assertExact(Tensor actual, float[] expected, String what) {
        assertAllClose(actual, expected, 0.0, 0.0, what);
    }

    /** Elementwise {@code |a - b| <= atol + rtol * |b|}; NaN only matches NaN. */
    public static void assertAllClose(Tensor actual, float[] expected, double atol, double rtol, String what) {
        float[] a = Tensors.toFloatArray(actual);
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        int bad = 0, first = -1;
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            boolean ok;
            if (Float.isNaN(expected[i]) || Float.isNaN(a[i])) {
                ok = Float.isNaN(expected[i]) && Float.isNaN(a[i]);
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
                    + "; max |diff| " + worst);
        }
    }

    /** Per-tensor scaled tolerance: {@code max|a - b| <= tol * max(floor, max|b|)}. */
    public static void assertScaledClose(Tensor actual, float[] expected, double tol, double floor, String what) {
        float[] a = Tensors.toFloatArray(actual);
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        double maxRef = floor, maxDiff = 0;
        int at = -1;
        for (int i = 0; i < a.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
            double d = Math.abs((double) a[i] - expected[i]);
            if (!(d <= maxDiff)) { maxDiff = d; at = i; }
        }
        if (!(maxDiff <= tol * maxRef)) {
            fail(what + ": max |diff| " + maxDiff + " at flat index " + at + " (got " + a[at] + ", expected "
                    + expected[at] + ") exceeds " + tol + " * " + maxRef);
        }
    }

    public static String head(float[] v, int n) {
        return Arrays.toString(Arrays.copyOf(v, Math.min(n, v.length)));
    }
}
