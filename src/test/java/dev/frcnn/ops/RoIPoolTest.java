package dev.frcnn.ops;

import dev.frcnn.ops.nativeops.NativeOps;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;

/** Bad input and invariants of {@link RoIPool} (no fixtures). */
class RoIPoolTest {
    private static final RoIPool POOL = new RoIPool(7, 7, 1.0 / 16);

    private static Tensor rois(float... rows) {
        return Tensors.fromFloats(rows, rows.length / 5, 5);
    }

    @Test
    void roisOutsideTheMapGiveZerosAndNoArgmax() {
        try (PointerScope s = new PointerScope()) {
            manual_seed(0);
            Tensor x = randn(1, 3, 10, 12);
            RoIPool.Pooled p = POOL.forwardWithArgmax(x, rois(0, 1000, 1000, 1200, 1300, 0, -500, -500, -300, -300));
            assertThat(Tensors.toFloatArray(p.output())).containsOnly(0f);
            assertThat(Tensors.toLongArray(p.argmax())).containsOnly(-1L);
            // partly outside: defined result, every non-empty bin is input[argmax]
            RoIPool.Pooled q = POOL.forwardWithArgmax(x, rois(0, -64, -64, 64, 64));
            checkOutputIsInputAtArgmax(x, Tensors.fromFloats(new float[]{0, -64, -64, 64, 64}, 1, 5), q);
        }
    }

    private static void checkOutputIsInputAtArgmax(Tensor x, Tensor rois, RoIPool.Pooled p) {
        float[] in = Tensors.toFloatArray(x), out = Tensors.toFloatArray(p.output());
        long[] am = Tensors.toLongArray(p.argmax());
        float[] r = Tensors.toFloatArray(rois);
        long c = x.size(1), plane = x.size(2) * x.size(3), bins = p.output().size(2) * p.output().size(3);
        for (int i = 0; i < out.length; i++) {
            long roi = i / (c * bins), ch = (i / bins) % c;
            long b = (long) r[(int) roi * 5];
            if (am[i] < 0) {
                assertThat(out[i]).isEqualTo(0f);
            } else {
                assertThat(am[i]).isLessThan(plane);
                assertThat(out[i]).isEqualTo(in[(int) ((b * c + ch) * plane + am[i])]);
            }
        }
    }

    @Test
    void badBatchIndexAndNonFiniteRoisAreRejected() {
        try (PointerScope s = new PointerScope()) {
            Tensor x = randn(2, 3, 10, 12);
            for (float b : new float[]{2, -1, 0.5f, Float.NaN}) {
                assertThatThrownBy(() -> POOL.forward(x, rois(b, 0, 0, 32, 32)))
                        .as("batch index %s", b)
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batch index");
            }
            assertThatThrownBy(() -> POOL.forward(x, rois(0, Float.NaN, 0, 32, 32)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("finite");
            assertThatThrownBy(() -> POOL.forward(x, rois(0, 0, 0, Float.POSITIVE_INFINITY, 32)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(POOL.forward(x, rois(1, 0, 0, 32, 32)).size(0)).isEqualTo(1);
        }
    }

    @Test
    void wrongDtypeAndShapeAreRejectedWithAClearMessage() {
        try (PointerScope s = new PointerScope()) {
            Tensor x = randn(1, 3, 10, 12);
            Tensor r = rois(0, 0, 0, 32, 32);
            assertThatThrownBy(() -> POOL.forward(x.to(ScalarType.Double), r))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Double").hasMessageContaining("float32");
            assertThatThrownBy(() -> POOL.forward(x, r.to(ScalarType.Long)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Long");
            assertThatThrownBy(() -> POOL.forward(x.view(3, 10, 12), r))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3, 10, 12]");
            assertThatThrownBy(() -> POOL.forward(x, Tensors.fromFloats(new float[]{0, 0, 32, 32}, 1, 4)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[1, 4]");
            assertThatThrownBy(() -> new RoIPool(0, 7, 1.0 / 16)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void emptyRoiSetGivesAnEmptyOutput() {
        try (PointerScope s = new PointerScope()) {
            Tensor x = randn(1, 3, 10, 12).requires_grad_(true);
            Tensor out = POOL.forward(x, Tensors.fromFloats(new float[0], 0, 5));
            assertThat(Tensors.shape(out)).containsExactly(0, 3, 7, 7);
            out.sum().backward();
            assertThat(Tensors.toFloatArray(x.grad())).containsOnly(0f);
        }
    }

    @Test
    void nonContiguousInputGivesTheContiguousResult() {
        try (PointerScope s = new PointerScope()) {
            manual_seed(1);
            Tensor x = randn(2, 5, 13, 17);
            Tensor xNc = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
            assertThat(xNc.is_contiguous()).isFalse();
            Tensor r = rois(0, 3, 7, 150, 190, 1, 40, 20, 260, 200, 1, -30, -30, 100, 60);
            Tensor rNc = Tensors.fromFloats(Tensors.toFloatArray(r.t().contiguous()), 5, 3).t();
            assertThat(rNc.is_contiguous()).isFalse();
            float[] expected = Tensors.toFloatArray(POOL.forward(x, r));
            assertThat(Tensors.toFloatArray(POOL.forward(xNc, rNc))).containsExactly(expected);
            // and through autograd
            Tensor xg = xNc.detach().requires_grad_(true);
            Tensor out = POOL.forward(xg, rNc);
            assertThat(Tensors.toFloatArray(out)).containsExactly(expected);
        }
    }

    @Test
    void autogradBackwardEqualsNativeBackwardAndNoGradReturnsTheNativeOutput() {
        try (PointerScope s = new PointerScope()) {
            manual_seed(2);
            Tensor x = randn(2, 8, 20, 25);
            float[] rows = new float[40 * 5];
            java.util.Random rnd = new java.util.Random(5);
            for (int i = 0; i < 40; i++) {
                float x1 = rnd.nextFloat() * 420 - 20, y1 = rnd.nextFloat() * 340 - 20;
                rows[i * 5] = i % 2;
                rows[i * 5 + 1] = x1;
                rows[i * 5 + 2] = y1;
                rows[i * 5 + 3] = x1 + rnd.nextFloat() * 200;
                rows[i * 5 + 4] = y1 + rnd.nextFloat() * 200;
            }
            Tensor r = rois(rows);
            RoIPool.Pooled p = POOL.forwardWithArgmax(x, r);
            checkOutputIsInputAtArgmax(x, r, p);
            Tensor go = randn(40, 8, 7, 7);
            Tensor nativeGrad = RoIPool.backward(go, p.argmax(), r, Tensors.shape(x));

            Tensor xg = x.clone().requires_grad_(true);
            Tensor out = POOL.forward(xg, r);
            assertThat(Tensors.toFloatArray(out)).containsExactly(Tensors.toFloatArray(p.output()));
            out.mul(go).sum().backward();
            assertThat(Tensors.toFloatArray(xg.grad())).containsExactly(Tensors.toFloatArray(nativeGrad));

            assertThat(POOL.forward(x, r).requires_grad()).isFalse();
            try (NoGradGuard g = new NoGradGuard()) {
                assertThat(POOL.forward(xg, r).requires_grad()).isFalse();
            }
        }
    }

    /**
     * Without grad the native op runs without an argmax; its output must be the argmax path's, bit for bit, on both
     * native scans (many rois on a small map take the channels-last scan, a few on a large map the direct one), with
     * NaN, -inf and ties in the map, empty bins and rois partly outside it.
     */
    @Test
    void forwardWithoutArgmaxEqualsTheArgmaxPathOnBothScans() {
        try (PointerScope s = new PointerScope()) {
            java.util.Random rnd = new java.util.Random(11);
            for (int[] shape : new int[][]{{2, 24, 12, 15, 300}, {1, 16, 60, 80, 1}}) {
                int n = shape[0], c = shape[1], h = shape[2], w = shape[3], count = shape[4];
                float[] v = new float[n * c * h * w];
                for (int i = 0; i < v.length; i++) {
                    int k = rnd.nextInt(40);
                    v[i] = k == 0 ? Float.NaN : k == 1 ? Float.NEGATIVE_INFINITY : k < 8 ? 0.5f : rnd.nextFloat() - 0.5f;
                }
                Tensor x = Tensors.fromFloats(v, n, c, h, w);
                float[] rows = new float[count * 5];
                for (int i = 0; i < count; i++) {
                    float x1 = rnd.nextFloat() * (w * 16 + 64) - 32, y1 = rnd.nextFloat() * (h * 16 + 64) - 32;
                    rows[i * 5] = i % n;
                    rows[i * 5 + 1] = x1;
                    rows[i * 5 + 2] = y1;
                    rows[i * 5 + 3] = x1 + rnd.nextFloat() * w * 12;
                    rows[i * 5 + 4] = y1 + rnd.nextFloat() * h * 12;
                }
                Tensor r = rois(rows);
                float[] withArgmax = Tensors.toFloatArray(POOL.forwardWithArgmax(x, r).output());
                float[] withoutArgmax = Tensors.toFloatArray(POOL.forward(x, r));
                assertThat(withoutArgmax).as("shape %s", java.util.Arrays.toString(shape)).containsExactly(withArgmax);
            }
        }
    }

    @Test
    void binsOfOnlyNanOrMinusInfinityBehaveAsTorchvisionAlsoThroughAutograd() {
        try (PointerScope s = new PointerScope()) {
            float[] v = new float[2 * 8 * 8];
            java.util.Arrays.fill(v, Float.NaN);
            for (int i = 64; i < 128; i++) v[i] = Float.NEGATIVE_INFINITY;
            v[64 + 9] = 3f;
            Tensor x = Tensors.fromFloats(v, 1, 2, 8, 8);
            Tensor r = rois(0, 0, 0, 1, 1, 0, -64, -64, -48, -48); // 1x1-cell bins at (0..1, 0..1); fully outside
            RoIPool pool = new RoIPool(2, 2, 1.0);
            RoIPool.Pooled p = pool.forwardWithArgmax(x, r);
            float[] out = Tensors.toFloatArray(p.output());
            long[] am = Tensors.toLongArray(p.argmax());
            // channel 0 (all NaN): -FLT_MAX and argmax -1; channel 1: -inf except the 3 at (1, 1)
            assertThat(out[0]).isEqualTo(-Float.MAX_VALUE);
            assertThat(am[0]).isEqualTo(-1);
            assertThat(Tensors.toFloatArray(p.output().get(0).get(1))).containsExactly(-Float.MAX_VALUE,
                    -Float.MAX_VALUE, -Float.MAX_VALUE, 3f);
            assertThat(Tensors.toFloatArray(p.output().get(1))).containsOnly(0f);
            Tensor xg = x.clone().requires_grad_(true);
            Tensor o = pool.forward(xg, r);
            assertThat(Tensors.toFloatArray(o)).containsExactly(out);
            o.sum().backward();
            float[] g = Tensors.toFloatArray(xg.grad());
            assertThat(g[64 + 9]).isEqualTo(1f);
            assertThat(java.util.stream.IntStream.range(0, g.length).filter(i -> g[i] != 0f).count()).isEqualTo(1);
            assertThat(am).contains(9L);
        }
    }

    @Test
    void nativeBackwardRejectsBadArgmax() {
        try (PointerScope s = new PointerScope()) {
            Tensor r = rois(0, 0, 0, 32, 32);
            Tensor go = randn(1, 2, 7, 7);
            Tensor am = Tensors.fromLongs(new long[98], 1, 2, 7, 7);
            am.data_ptr_long().put(3, 1000L);
            assertThatThrownBy(() -> RoIPool.backward(go, am, r, new long[]{1, 2, 5, 5}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("argmax");
            assertThatThrownBy(() -> RoIPool.backward(go, am.to(ScalarType.Int), r, new long[]{1, 2, 5, 5}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Int");
            assertThatThrownBy(() -> RoIPool.backward(go, am, rois(3, 0, 0, 32, 32), new long[]{1, 2, 5, 5}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batch index");
        }
    }

    @Test
    void cudaEntryPointsOnThisMachine() {
        NativeOps lib = NativeOps.get();
        if (lib.cudaDeviceCount() == 0) {
            MemorySegment nul = MemorySegment.NULL;
            assertThatThrownBy(() -> lib.roiPoolForwardCuda(nul, 1, 1, 1, 1, nul, 0, 1f, 7, 7, nul, nul, 0L))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("CUDA");
            assertThatThrownBy(() -> lib.roiPoolBackwardCuda(nul, nul, nul, 0, 0, 1, 1, 1, 7, 7, nul, 0L))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("CUDA");
        }
    }
}
