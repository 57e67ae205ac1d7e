package dev.frcnn.ops;

import dev.frcnn.ops.nativeops.NativeOps;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad input and invariants of {@link Nms} (no fixtures). */
class NmsTest {
    private static float[] randomBoxes(Random rnd, int n) {
        float[] b = new float[n * 4];
        for (int i = 0; i < n; i++) {
            float y = rnd.nextFloat() * 300, x = rnd.nextFloat() * 400;
            float h = 5 + rnd.nextFloat() * 80, w = 5 + rnd.nextFloat() * 80;
            b[i * 4] = y;
            b[i * 4 + 1] = x;
            b[i * 4 + 2] = y + h;
            b[i * 4 + 3] = x + w;
        }
        return b;
    }

    private static float[] randomScores(Random rnd, int n) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) s[i] = rnd.nextFloat();
        return s;
    }

    private static float iou(float[] b, long i, long j) {
        int p = (int) i * 4, q = (int) j * 4;
        float ai = (b[p + 2] - b[p]) * (b[p + 3] - b[p + 1]);
        float aj = (b[q + 2] - b[q]) * (b[q + 3] - b[q + 1]);
        float w = Math.max(0f, Math.min(b[p + 2], b[q + 2]) - Math.max(b[p], b[q]));
        float h = Math.max(0f, Math.min(b[p + 3], b[q + 3]) - Math.max(b[p + 1], b[q + 1]));
        float inter = w * h;
        return inter / (ai + aj - inter);
    }

    @Test
    void emptyBoxSetGivesEmptyInt64() {
        try (PointerScope s = new PointerScope()) {
            Tensor keep = Nms.nms(Tensors.fromFloats(new float[0], 0, 4), Tensors.fromFloats(new float[0], 0), 0.7);
            assertThat(keep.numel()).isZero();
            assertThat(Tensors.isType(keep, ScalarType.Long)).isTrue();
            assertThat(keep.dim()).isEqualTo(1);
        }
    }

    @Test
    void zeroAreaBoxesAreNeverSuppressed() {
        try (PointerScope s = new PointerScope()) {
            float[] b = {5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 9};
            Tensor keep = Nms.nms(Tensors.fromFloats(b, 3, 4), Tensors.fromFloats(new float[]{0.9f, 0.9f, 0.5f}, 3), 0.1);
            assertThat(Tensors.toLongArray(keep)).containsExactly(0, 1, 2);
        }
    }

    @Test
    void tiedScoresKeepIndexOrderAndIdenticalBoxesAreSuppressed() {
        try (PointerScope s = new PointerScope()) {
            float[] b = {0, 0, 10, 10, 50, 50, 60, 60, 0, 0, 10, 10, 50, 50, 60, 60};
            Tensor keep = Nms.nms(Tensors.fromFloats(b, 4, 4), Tensors.fromFloats(new float[]{0.5f, 0.5f, 0.5f, 0.5f}, 4), 0.5);
            assertThat(Tensors.toLongArray(keep)).containsExactly(0, 1);
        }
    }

    @Test
    void nanScoresAreRejected() {
        try (PointerScope s = new PointerScope()) {
            Tensor boxes = Tensors.fromFloats(randomBoxes(new Random(1), 3), 3, 4);
            Tensor scores = Tensors.fromFloats(new float[]{0.1f, Float.NaN, 0.3f}, 3);
            assertThatThrownBy(() -> Nms.nms(boxes, scores, 0.5))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
            assertThatThrownBy(() -> Nms.nms(boxes, Tensors.fromFloats(new float[]{1, 2, 3}, 3), Double.NaN))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
        }
    }

    @Test
    void wrongDtypeAndShapeAreRejectedWithAClearMessage() {
        try (PointerScope s = new PointerScope()) {
            Tensor boxes = Tensors.fromFloats(randomBoxes(new Random(2), 3), 3, 4);
            Tensor scores = Tensors.fromFloats(new float[]{1, 2, 3}, 3);
            assertThatThrownBy(() -> Nms.nms(boxes.to(ScalarType.Double), scores, 0.5))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Double").hasMessageContaining("float32");
            assertThatThrownBy(() -> Nms.nms(boxes, scores.to(ScalarType.Half), 0.5))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Half");
            assertThatThrownBy(() -> Nms.nms(Tensors.fromFloats(new float[15], 3, 5), scores, 0.5))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3, 5]");
            assertThatThrownBy(() -> Nms.nms(boxes, Tensors.fromFloats(new float[2], 2), 0.5))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2]");
            assertThatThrownBy(() -> Nms.nms(boxes.view(12), scores, 0.5))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[12]");
        }
    }

    @Test
    void nonContiguousInputGivesTheContiguousResult() {
        try (PointerScope s = new PointerScope()) {
            Random rnd = new Random(3);
            int n = 500;
            float[] b = randomBoxes(rnd, n);
            float[] sc = randomScores(rnd, n);
            Tensor boxes = Tensors.fromFloats(b, n, 4);
            Tensor scores = Tensors.fromFloats(sc, n);
            Tensor boxesT = boxes.t().contiguous().t(); // (n, 4) view with strides (1, n)
            assertThat(boxesT.is_contiguous()).isFalse();
            long[] expected = Tensors.toLongArray(Nms.nms(boxes, scores, 0.5));
            assertThat(Tensors.toLongArray(Nms.nms(boxesT, scores, 0.5))).containsExactly(expected);
            // a non-contiguous scores view (stride 2) over other data
            Tensor sc2 = Tensors.fromFloats(interleave(sc), n, 2).select(1, 0);
            assertThat(sc2.is_contiguous()).isFalse();
            assertThat(Tensors.toLongArray(Nms.nms(boxes, sc2, 0.5))).containsExactly(expected);
        }
    }

    private static float[] interleave(float[] a) {
        float[] out = new float[a.length * 2];
        for (int i = 0; i < a.length; i++) {
            out[2 * i] = a[i];
            out[2 * i + 1] = -1f;
        }
        return out;
    }

    @Test
    void invariantsAndMaxKeepPrefix() {
        try (PointerScope s = new PointerScope()) {
            Random rnd = new Random(4);
            int n = 2000;
            float[] b = randomBoxes(rnd, n);
            float[] sc = randomScores(rnd, n);
            Tensor boxes = Tensors.fromFloats(b, n, 4);
            Tensor scores = Tensors.fromFloats(sc, n);
            for (double thr : new double[]{0.3, 0.5, 0.7}) {
                long[] keep = Tensors.toLongArray(Nms.nms(boxes, scores, thr));
                assertThat(keep).doesNotHaveDuplicates();
                for (int k = 1; k < keep.length; k++) assertThat(sc[(int) keep[k - 1]]).isGreaterThanOrEqualTo(sc[(int) keep[k]]);
                for (int p = 0; p < keep.length; p++) {
                    for (int q = p + 1; q < keep.length; q++) {
                        assertThat((double) iou(b, keep[p], keep[q])).isLessThanOrEqualTo(thr);
                    }
                }
                // every dropped box overlaps a kept box with a higher rank by more than thr
                boolean[] kept = new boolean[n];
                for (long k : keep) kept[(int) k] = true;
                for (int j = 0; j < n; j++) {
                    if (kept[j]) continue;
                    final int jj = j;
                    assertThat(Arrays.stream(keep).anyMatch(i -> (double) iou(b, i, jj) > thr)).isTrue();
                }
                for (long max : new long[]{0, 1, 7, keep.length - 1, keep.length, keep.length + 10L}) {
                    long[] part = Tensors.toLongArray(Nms.nms(boxes, scores, thr, max));
                    assertThat(part).containsExactly(Arrays.copyOf(keep, (int) Math.min(max, keep.length)));
                }
                assertThat(Tensors.toLongArray(Nms.nms(boxes, scores, thr, -1))).containsExactly(keep);
            }
        }
    }

    @Test
    void cudaEntryPointOnThisMachine() {
        NativeOps lib = NativeOps.get();
        assertThat(lib.abiVersion()).isEqualTo(NativeOps.ABI_VERSION);
        if (lib.cudaDeviceCount() == 0) {
            assertThatThrownBy(() -> lib.nmsCuda(MemorySegment.NULL, MemorySegment.NULL, 0, 0.5, -1,
                    MemorySegment.NULL, 0L))
                    .isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("CUDA");
        } else {
            assertThat(lib.builtWithCuda()).isTrue();
        }
        if (!lib.builtWithCuda()) assertThat(lib.cudaDeviceCount()).isZero();
    }
}
