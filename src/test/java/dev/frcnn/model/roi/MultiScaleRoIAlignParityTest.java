package dev.frcnn.model.roi;

import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import dev.frcnn.testing.TvFpnFixture;
import dev.frcnn.testing.TvFpnModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parity of {@link MultiScaleRoIAlign} and {@link LevelMapper} with torchvision 0.14 ({@code tv_fpn_forward.json}),
 * on the stored proposals: level of every RoI (exact), the levels' scales (exact), and the pooled features on the
 * model's FPN levels (sampled values, rows 0-1 complete: {@code max|a-b| <= 1e-5 * max|b|}; per-RoI sums:
 * {@code |a-b| <= 1e-5 * sum|b|}).
 */
class MultiScaleRoIAlignParityTest {
    private static final double SCALED = 1e-5;

    private static Golden g;
    private static TvFpnModels.Features features;
    private static MultiScaleRoIAlign pool;

    @BeforeAll
    static void build() {
        g = TvFpnFixture.forward();
        features = TvFpnModels.features();
        pool = TvFpnModels.model().roiHeads().boxRoIPool();
    }

    private static List<long[]> sizes() {
        return dev.frcnn.model.TorchvisionFasterRCNN.hw(features.batch().imageSizes());
    }

    private static List<Tensor> pooledLevels() {
        return features.levels().subList(0, pool.numLevels());
    }

    @Test
    void scalesAndLevelsMatch() {
        try (PointerScope s = new PointerScope()) {
            double[] scales = pool.scales(pooledLevels(), sizes());
            assertThat(scales).containsExactly(g.doubles("roi_scales"));
            Tensor levels = pool.levels(pooledLevels(), List.of(g.tensor("proposals")), sizes());
            assertThat(Tensors.toLongArray(levels)).containsExactly(g.longs("roi_level"));
        }
    }

    @Test
    void pooledFeaturesMatch() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor pooled = pool.forward(pooledLevels(), List.of(g.tensor("proposals")), sizes());
            assertThat(Tensors.shape(pooled)).isEqualTo(g.longs("pooled_shape"));
            float[] first2 = g.floats("pooled_first2");
            float[] vals = g.floats("pooled_val");
            double maxRef = 0;
            for (float v : first2) maxRef = Math.max(maxRef, Math.abs(v));
            for (float v : vals) maxRef = Math.max(maxRef, Math.abs(v));
            TensorAssert.assertScaledClose(pooled.narrow(0, 0, 2), first2, SCALED, maxRef, "pooled_first2");
            long[] idx = g.longs("pooled_idx");
            TensorAssert.assertScaledClose(pooled.reshape(-1).index_select(0, Tensors.fromLongs(idx, idx.length)), vals,
                    SCALED, maxRef, "pooled_val");
            double[] sums = Tensors.toDoubleArray(pooled.to(ScalarType.Double).sum(new long[]{1, 2, 3}, false,
                    new ScalarTypeOptional()));
            double[] want = g.doubles("pooled_roisum");
            double[] abs = g.doubles("pooled_roiabs");
            for (int r = 0; r < want.length; r++) {
                assertThat(Math.abs(sums[r] - want[r])).as("roi %d sum", r).isLessThanOrEqualTo(SCALED * abs[r]);
            }
        }
    }
}
