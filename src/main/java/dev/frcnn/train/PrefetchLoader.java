package dev.frcnn.train;

import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.SampleTransform;
import dev.frcnn.data.Transform;
import dev.frcnn.data.DetectionDataset;
import org.bytedeco.javacpp.PointerScope;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The training samples of each epoch, in the epoch's order ({@link Seeds#epochOrder}; with several processes this
 * rank's share of it, {@link DistributedSampler}) with the epoch's flips
 * ({@link Seeds#flip}), read and transformed ahead of the step that needs them. With {@code num_workers} 0 (as
 * PyTorch's {@code DataLoader}) each image is read in the training thread when its step asks for it; otherwise up to
 * {@value #PREFETCH} samples are read ahead on {@code min(num_workers, 2)} daemon threads named {@code frcnn-loader}.
 * Either way a step gets the same sample.
 */
final class PrefetchLoader implements AutoCloseable {
    /** Samples read ahead of the step in progress. */
    static final int PREFETCH = 4;

    private final DetectionDataset train;
    private final DistributedSampler shard;
    private final SampleTransform transform;
    private final Preprocessing preprocessing;
    private final int minInputSide;
    private final long seed;
    private final ExecutorService pool;

    /**
     * @param train the training split
     * @param trainable the indices of {@code train} trained on (images with at least one non-difficult object)
     * @param transform the model family's train transform of a sample (the reference's: resize, normalisation, flip)
     * @param preprocessing checks that an image's resize stays at least {@code minInputSide} on each side
     * @param minInputSide the backbone's smallest input side
     * @param seed the run's seed (epoch order and flips)
     * @param numWorkers {@code num_workers}: 0 reads in the training thread
     */
    PrefetchLoader(DetectionDataset train, List<Integer> trainable, SampleTransform transform, Preprocessing preprocessing,
                   int minInputSide, long seed, int numWorkers) {
        this(train, DistributedSampler.single(trainable, seed), transform, preprocessing, minInputSide, seed,
                numWorkers);
    }

    /**
     * As {@link #PrefetchLoader(DetectionDataset, List, SampleTransform, Preprocessing, int, long, int)}, reading this rank's
     * share of each epoch.
     *
     * @param shard which of the trainable indices this process trains on, in which order ({@link #order})
     */
    PrefetchLoader(DetectionDataset train, DistributedSampler shard, SampleTransform transform, Preprocessing preprocessing,
                   int minInputSide, long seed, int numWorkers) {
        this.train = train;
        this.shard = shard;
        this.transform = transform;
        this.preprocessing = preprocessing;
        this.minInputSide = minInputSide;
        this.seed = seed;
        this.pool = numWorkers == 0 ? null : Executors.newFixedThreadPool(Math.min(numWorkers, 2), r -> {
            Thread t = new Thread(r, "frcnn-loader");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * The order of {@code epoch}: dataset indices, one per image position ({@code batch_size} of them per step;
     * {@link DistributedSampler#indices}).
     */
    int[] order(int epoch) {
        return shard.indices(epoch);
    }

    /**
     * The sample index that seeds the sampling of image {@code i} of global step {@code globalStep} at
     * {@code batchSize} images per step ({@link DistributedSampler#sampleIndex(long, int, int)}).
     */
    long sampleIndex(long globalStep, int batchSize, int i) {
        return shard.sampleIndex(globalStep, batchSize, i);
    }

    /**
     * Starts reading an epoch from image position {@code from} (the first image of a step: step x {@code batch_size}).
     *
     * @param order the epoch's {@link #order(int)}
     */
    Epoch epoch(int epoch, int[] order, int from) {
        return new Epoch(epoch, order, from);
    }

    /** The samples of one epoch, asked for in position order; closing it cancels the reads ahead. */
    final class Epoch implements AutoCloseable {
        private final int epoch;
        private final int[] order;
        private final ArrayDeque<Future<Transform.Sample>> ahead = new ArrayDeque<>();
        private int next;

        private Epoch(int epoch, int[] order, int from) {
            this.epoch = epoch;
            this.order = order;
            this.next = from;
        }

        /**
         * The sample at position {@code it} of the epoch's order (positions are asked for in order, from the epoch's
         * start position).
         *
         * @return the transformed sample; the caller closes it
         * @throws dev.frcnn.data.DataException or another runtime exception of the read, naming the image
         */
        Transform.Sample next(int it) {
            while (pool != null && next < order.length && ahead.size() < PREFETCH) {
                int idx = order[next];
                boolean flip = Seeds.flip(seed, epoch, idx);
                ahead.add(pool.submit(() -> load(idx, flip)));
                next++;
            }
            return pool == null ? load(order[it], Seeds.flip(seed, epoch, order[it])) : take(ahead.poll(), order[it]);
        }

        @Override
        public void close() {
            for (Future<Transform.Sample> f : ahead) {
                f.cancel(true);
            }
        }
    }

    private Transform.Sample load(int idx, boolean flip) {
        try (PointerScope s = new PointerScope()) {
            DetectionDataset.Example ex = train.get(idx);
            // an image resized below the backbone's smallest input is refused naming its file (not LibTorch's shape error)
            preprocessing.checkResizable(train.imagePath(idx), ex.image().size(1), ex.image().size(2), minInputSide);
            return transform.apply(ex.image(), ex.bbox(), ex.label(), flip);
        }
    }

    private Transform.Sample take(Future<Transform.Sample> f, int idx) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while loading " + train.imagePath(idx), e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException("cannot load " + train.imagePath(idx) + ": " + e.getCause(), e.getCause());
        }
    }

    /** Stops the reading threads (a read in progress is interrupted). */
    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
