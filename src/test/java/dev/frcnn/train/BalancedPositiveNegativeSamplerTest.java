package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.frcnn.testing.TensorAssert.assertExact;
import static org.assertj.core.api.Assertions.assertThat;

/** torchvision's sampler rule: counts, negatives filling up, ascending output, ignored labels, seeded reproducibility. */
class BalancedPositiveNegativeSamplerTest {
    @Test
    void fewPositivesAreAllKeptAndNegativesFillTheBatch() {
        try (PointerScope s = new PointerScope()) {
            // labels: 3 positives (1, 2 count as >= 1), 6 negatives, 2 ignored.
            Tensor labels = Tensors.fromLongs(new long[]{0, 1, -1, 0, 2, 0, 0, -1, 1, 0, 0}, 11);
            BalancedPositiveNegativeSampler.Sample sample =
                    new BalancedPositiveNegativeSampler(8, 0.5, Sampler.seeded(7)).sample(labels);
            assertExact(sample.positive(), new long[]{1, 4, 8}, "all positives");
            long[] neg = Tensors.toLongArray(sample.negative());
            assertThat(neg).hasSize(5).isSorted();
            assertThat(new long[]{0, 3, 5, 6, 9, 10}).contains(neg);
            long[] all = Tensors.toLongArray(sample.sampled());
            assertThat(all).hasSize(8).isSorted();
        }
    }

    @Test
    void positivesAreCappedAtTheFractionTruncated() {
        try (PointerScope s = new PointerScope()) {
            long[] l = new long[100];
            Arrays.fill(l, 0, 60, 1);   // 60 positives, 40 negatives
            Tensor labels = Tensors.fromLongs(l, 100);
            // (int)(10 * 0.25) = 2 positives, 8 negatives
            BalancedPositiveNegativeSampler.Sample a = new BalancedPositiveNegativeSampler(10, 0.25, Sampler.seeded(3)).sample(labels);
            BalancedPositiveNegativeSampler.Sample b = new BalancedPositiveNegativeSampler(10, 0.25, Sampler.seeded(3)).sample(labels);
            assertThat(a.positive().size(0)).isEqualTo(2);
            assertThat(a.negative().size(0)).isEqualTo(8);
            assertThat(Arrays.stream(Tensors.toLongArray(a.negative())).allMatch(i -> i >= 60)).as("negatives are label-0 rows").isTrue();
            assertThat(Tensors.toLongArray(a.sampled())).as("same seed, same sample").containsExactly(Tensors.toLongArray(b.sampled()));
        }
    }
}
