package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.Random;

/**
 * The one injectable source of random choices in target creation: which anchors
 * ({@link AnchorTargetCreator}) or RoIs ({@link ProposalTargetCreator}) survive subsampling, and, for torchvision's
 * training, which positives and negatives {@link BalancedPositiveNegativeSampler} keeps (where torchvision draws
 * {@code torch.randperm}; a sampler returning recorded choices replays a torchvision run).
 *
 * <p>It replaces the reference's {@code numpy.random.choice(a, size, replace=False)}, but always answers
 * the question "which candidates to KEEP". (The reference's AnchorTargetCreator asks choice for the
 * labels to <em>disable</em>; the creators here ask for the complement, which is the same distribution
 * for a uniformly random sampler.) With {@link #firstN()} this reproduces the golden fixtures' sampling
 * patch for both creators: ProposalTargetCreator's patched choice returns {@code a[:size]} (keep the
 * lowest indices), AnchorTargetCreator's returns {@code a[len(a)-size:]} as the indices to disable, so
 * again the lowest indices are kept.
 */
public interface Sampler {

    /**
     * Chooses {@code count} of the candidates, without replacement.
     *
     * @param ascendingIndices (N,) int64 candidate indices in increasing order (as from {@code np.where}),
     *                         any device
     * @param count how many to keep, {@code 0 <= count <= N}
     * @return (count,) int64 subset of {@code ascendingIndices}, on its device; the order is the
     *         implementation's (it becomes the order of the sampled RoIs in ProposalTargetCreator)
     * @throws IllegalArgumentException if {@code count} is out of range or the input is not 1-D
     */
    Tensor choose(Tensor ascendingIndices, long count);

    /**
     * The deterministic rule of the golden fixtures: keep the first {@code count} candidates, i.e. the
     * lowest indices, in increasing order ({@code ascendingIndices[:count]}).
     *
     * @return a stateless, thread-safe sampler
     */
    static Sampler firstN() {
        return FirstN.INSTANCE;
    }

    /**
     * Uniform random sampling without replacement, reproducible for a fixed seed.
     *
     * <p>Implementation: a {@link java.util.Random} seeded with {@code seed} drives a partial Fisher-Yates
     * shuffle of the positions {@code 0..N-1}; the first {@code count} shuffled positions select the
     * candidates (returned in that random order, like {@code numpy.random.choice}). The random numbers are
     * drawn in Java, independent of the device and of LibTorch's generators; only the (count,) position
     * array is copied to the candidates' device. The sampler is stateful: successive calls continue the
     * same random stream, so two samplers with the same seed and the same sequence of calls give the same
     * results. Calls are synchronized, but interleaving callers share one stream.
     *
     * @param seed the {@link java.util.Random} seed
     * @return a new sampler
     */
    static Sampler seeded(long seed) {
        return new Seeded(seed);
    }

    /** Validates the arguments of {@link #choose}; returns N. */
    private static long checkArgs(Tensor ascendingIndices, long count) {
        if (ascendingIndices == null || ascendingIndices.dim() != 1) {
            throw new IllegalArgumentException("candidates must be a 1-D index tensor, got "
                    + (ascendingIndices == null ? "null" : Tensors.shapeString(ascendingIndices)));
        }
        long n = ascendingIndices.size(0);
        if (count < 0 || count > n) {
            throw new IllegalArgumentException("cannot choose " + count + " of " + n + " candidates");
        }
        return n;
    }

    /** See {@link Sampler#firstN()}. */
    final class FirstN implements Sampler {
        private static final FirstN INSTANCE = new FirstN();

        private FirstN() {}

        /** Returns {@code ascendingIndices[:count]}. */
        @Override
        public Tensor choose(Tensor ascendingIndices, long count) {
            checkArgs(ascendingIndices, count);
            return ascendingIndices.narrow(0, 0, count);
        }

        @Override
        public String toString() {
            return "Sampler.firstN()";
        }
    }

    /** See {@link Sampler#seeded(long)}. */
    final class Seeded implements Sampler {
        private final long seed;
        private final Random random;

        private Seeded(long seed) {
            this.seed = seed;
            this.random = new Random(seed);
        }

        /** Returns {@code count} candidates picked uniformly without replacement, in random order. */
        @Override
        public synchronized Tensor choose(Tensor ascendingIndices, long count) {
            long n = checkArgs(ascendingIndices, count);
            if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("too many candidates: " + n);
            int[] perm = new int[(int) n];
            for (int i = 0; i < perm.length; i++) perm[i] = i;
            long[] pos = new long[(int) count];
            for (int i = 0; i < pos.length; i++) {
                int j = i + random.nextInt(perm.length - i);
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
                pos[i] = perm[i];
            }
            Tensor positions = Tensors.fromLongs(pos, count).to(ascendingIndices.device(),
                    org.bytedeco.pytorch.global.torch.ScalarType.Long);
            return ascendingIndices.index_select(0, positions);
        }

        @Override
        public String toString() {
            return "Sampler.seeded(" + seed + ")";
        }
    }
}
