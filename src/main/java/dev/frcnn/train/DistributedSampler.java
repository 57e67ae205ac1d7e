package dev.frcnn.train;

import java.util.List;

/**
 * This process's share of each epoch's training images, with the semantics of PyTorch's
 * {@code torch.utils.data.DistributedSampler(shuffle=True, drop_last=False)}: every rank computes the same
 * permutation of the epoch (a function of the run's seed and the epoch: {@link Seeds#epochOrder}, the order a single
 * process trains in), pads it to a multiple of the world size by repeating its head, and rank {@code r} takes the
 * positions {@code r, r + W, r + 2W, ...}. Each rank gets {@code ceil(n / W)} samples per epoch; together the ranks
 * see every image once (and the first {@code ceil(n / W) * W - n} of the permutation twice).
 *
 * <p>With world size 1 the order is exactly {@link Seeds#epochOrder}: a single process trains as it always has.
 *
 * <p>Step {@code s} of rank {@code r} trains on position {@code s * W + r} of the padded permutation, so the ranks'
 * steps, taken together, go through the single process's order {@code W} samples at a time.
 * {@link #sampleIndex(long, int, int)} numbers the samples of the whole run the same way, and the anchor and RoI
 * sampling of each image is seeded with its number ({@link Seeds#stepSeed}): with world size 1 and one image per step
 * it is the global step, as before.
 */
final class DistributedSampler {
    private final List<Integer> trainable;
    private final long seed;
    private final int rank;
    private final int worldSize;

    /**
     * @param trainable the dataset indices trained on, in dataset order (at least one)
     * @param seed the run's seed
     * @param rank this process's rank, 0..worldSize-1
     * @param worldSize the number of processes, at least 1
     * @throws IllegalArgumentException if {@code trainable} is empty or the rank is not in the world
     */
    DistributedSampler(List<Integer> trainable, long seed, int rank, int worldSize) {
        if (trainable.isEmpty()) throw new IllegalArgumentException("no training images to shard");
        if (worldSize < 1) throw new IllegalArgumentException("worldSize must be >= 1, got " + worldSize);
        if (rank < 0 || rank >= worldSize)
            throw new IllegalArgumentException("rank must be in 0.." + (worldSize - 1) + ", got " + rank);
        this.trainable = List.copyOf(trainable);
        this.seed = seed;
        this.rank = rank;
        this.worldSize = worldSize;
    }

    /** One process: the whole epoch order. */
    static DistributedSampler single(List<Integer> trainable, long seed) {
        return new DistributedSampler(trainable, seed, 0, 1);
    }

    /** The images of an epoch over all ranks ({@code n}). */
    int datasetSize() {
        return trainable.size();
    }

    /** This rank's samples (and steps) per epoch: {@code ceil(n / W)}, PyTorch's {@code num_samples}. */
    int numSamples() {
        return (trainable.size() + worldSize - 1) / worldSize;
    }

    /** The number of processes. */
    int worldSize() {
        return worldSize;
    }

    /**
     * This rank's dataset indices for {@code epoch}, one per step: positions {@code rank, rank + W, ...} of the
     * epoch's permutation padded by repeating its head to {@code numSamples() * W}.
     *
     * @return {@link #numSamples()} indices; with world size 1, {@link Seeds#epochOrder} itself
     */
    int[] indices(int epoch) {
        int[] order = Seeds.epochOrder(trainable, seed, epoch);
        if (worldSize == 1) return order;
        int[] mine = new int[numSamples()];
        for (int s = 0; s < mine.length; s++) mine[s] = order[(s * worldSize + rank) % order.length];
        return mine;
    }

    /**
     * The 0-based index, in the run's stream of samples over all ranks, of this rank's image {@code i} of global
     * step {@code globalStep} at {@code batchSize} images per step: {@code (globalStep * B + i) * W + rank}, the
     * image's position in the single-process order ({@link #indices}: this rank's image {@code s * B + i} of the epoch
     * is position {@code (s * B + i) * W + rank}), counted over the run. That image's anchor and RoI sampling is seeded
     * with it ({@link Seeds#stepSeed}), so an image draws the same samples for every world size {@code W} and batch
     * size {@code B} with the same {@code W * B}; at {@code B = 1} it is {@code globalStep * W + rank}, and at
     * {@code W = B = 1} the global step.
     *
     * @param i the image's index in the step's batch, {@code 0 <= i < batchSize}
     */
    long sampleIndex(long globalStep, int batchSize, int i) {
        return (globalStep * batchSize + i) * worldSize + rank;
    }

    /**
     * A position in steps of this world size as a position in samples of all ranks ({@code steps * W}, at most
     * {@code n} within an epoch): what {@code last.ckpt} saves, so that a resume with another world size continues
     * where the run was.
     *
     * @param steps steps of an epoch done ({@code 0..numSamples()})
     */
    int samplesDone(int steps) {
        return Math.min(steps * worldSize, trainable.size());
    }

    /**
     * A position in samples of all ranks as steps of this world size: {@code floor(samples / W)}, so that no image of
     * the epoch is skipped (at most {@code W - 1} are trained on again); {@link #numSamples()} when the epoch was
     * complete.
     *
     * @param samples samples of an epoch done ({@code 0..n})
     */
    int stepsDone(int samples) {
        return samples >= trainable.size() ? numSamples() : samples / worldSize;
    }
}
