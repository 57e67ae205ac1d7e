package dev.frcnn.train;

import org.bytedeco.pytorch.Tensor;

/**
 * A {@link Sampler} whose random stream is re-seeded before every image's draws ({@link Seeds#stepSeed} of the
 * image's sample index), so that resumed runs repeat exactly.
 */
final class ReseedableSampler implements Sampler {
    private Sampler current;

    /** @param seed the seed of the stream until the first {@link #reseed} */
    ReseedableSampler(long seed) {
        this.current = Sampler.seeded(seed);
    }

    /** Starts a new stream from {@code seed}. */
    void reseed(long seed) {
        this.current = Sampler.seeded(seed);
    }

    @Override
    public Tensor choose(Tensor ascendingIndices, long count) {
        return current.choose(ascendingIndices, count);
    }
}
