package dev.frcnn.train;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The random choices of a training run as functions of (seed, epoch, step) only: the order of an epoch, the flip of
 * an image in an epoch, the sampler's seed for a step. Nothing depends on how many steps this process has run, so a
 * resumed run repeats exactly what an uninterrupted one would have done.
 */
final class Seeds {
    private Seeds() {}

    /**
     * The shuffled order of an epoch.
     *
     * @param trainable the dataset indices trained on, in dataset order
     * @return a permutation of {@code trainable}: a function of (seed, epoch) only
     */
    static int[] epochOrder(List<Integer> trainable, long seed, int epoch) {
        int[] order = trainable.stream().mapToInt(Integer::intValue).toArray();
        SplittableRandom r = new SplittableRandom(mix(seed, 0x5EED0000L + epoch));
        for (int i = order.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    /** The horizontal-flip coin of image {@code idx} in {@code epoch} (p = 0.5, as the reference). */
    static boolean flip(long seed, int epoch, int idx) {
        return (mix(mix(seed, 0xF11Fl + epoch), idx) & 1L) == 1L;
    }

    /**
     * The seed of the anchor and RoI sampling of the image with the 0-based sample index {@code step}
     * ({@link DistributedSampler#sampleIndex(long, int, int)}: the global step with one process and one image per
     * step).
     */
    static long stepSeed(long seed, long step) {
        return mix(seed, step);
    }

    /** splitmix64 of (a, b): a well-mixed 64-bit value. */
    static long mix(long a, long b) {
        long z = a * 0x9E3779B97F4A7C15L + b + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
