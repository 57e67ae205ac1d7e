package dev.frcnn.model.utils;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** Tolerance checks of shared/golden/README.md that TensorAssert does not have. */
final class BoxAsserts {
    private BoxAsserts() {}

    /** Elementwise {@code |a - b| <= tol * max(1, |b|)}; NaN only matches NaN. */
    static void assertRelFloor1(Tensor actual, float[] expected, double tol, String what) {
        float[] a = Tensors.toFloatArray(actual);
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        for (int i = 0; i < a.length; i++) {
            if (Float.isNaN(expected[i]) || Float.isNaN(a[i])) {
                if (!(Float.isNaN(expected[i]) && Float.isNaN(a[i]))) {
                    fail(what + ": NaN mismatch at flat index " + i + ": got " + a[i] + ", expected " + expected[i]);
                }
                continue;
            }
            double d = Math.abs((double) a[i] - expected[i]);
            if (!(d <= tol * Math.max(1.0, Math.abs(expected[i])))) {
                fail(what + ": flat index " + i + ": got " + a[i] + ", expected " + expected[i] + " (|diff| " + d + ")");
            }
        }
    }

    /** Row-wise {@code |a - b| <= tol * max(1, max_j |b_row,j|)} for (R, C) data. */
    static void assertRowScaled(Tensor actual, float[] expected, int cols, double tol, String what) {
        float[] a = Tensors.toFloatArray(actual);
        assertThat(a.length).as(what + " element count").isEqualTo(expected.length);
        for (int r = 0; r * cols < a.length; r++) {
            double scale = 1.0;
            for (int j = 0; j < cols; j++) scale = Math.max(scale, Math.abs(expected[r * cols + j]));
            for (int j = 0; j < cols; j++) {
                int i = r * cols + j;
                double d = Math.abs((double) a[i] - expected[i]);
                if (!(d <= tol * scale)) {
                    fail(what + ": row " + r + " col " + j + ": got " + a[i] + ", expected " + expected[i]
                            + " (|diff| " + d + ", allowed " + tol * scale + ")");
                }
            }
        }
    }
}
