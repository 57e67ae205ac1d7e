package dev.frcnn.train;

import dev.frcnn.dist.DistributedGroup;
import org.bytedeco.pytorch.Module;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.empty;
import static org.bytedeco.pytorch.global.torch.zeros_like;

/**
 * Data parallelism's two collectives on the model, what PyTorch's {@code DistributedDataParallel} does around a
 * step, over a {@link DistributedGroup} (c10d, Gloo):
 * <ul>
 *   <li>{@link #broadcastParameters()}: rank 0's parameters and buffers copied to every rank (DDP's constructor,
 *       {@code _sync_module_states}), after the weights are loaded or a run resumed, and after the lr decay reloads
 *       the best model on rank 0;</li>
 *   <li>{@link #averageGradients()}: after the backward and before the optimizer step, every trainable parameter's
 *       gradient replaced by its mean over the ranks. The gradients go in flattened buckets of at most
 *       {@link #BUCKET_BYTES} (DDP's {@code bucket_cap_mb=25}; a larger parameter is a bucket of its own), one c10d
 *       {@code allreduce(AVG)} per bucket. Frozen parameters ({@code requires_grad} false) have no gradient and are not
 *       sent. A trainable parameter without a gradient in this step (it took no part in the loss) counts as a zero
 *       gradient, so that every rank sends the same buckets.</li>
 * </ul>
 * Unlike DDP's {@code Reducer}, the buckets are reduced after the whole backward, not overlapped with it: the
 * overlap needs autograd hooks on the gradient accumulators, which the presets' Java API does not reach
 * ({@code docs/distributed.md} gives the measured cost). The optimizer step that follows is the single-process one,
 * unchanged: with identical gradients and identical initial state every rank takes the same step.
 *
 * <p>Tensors are dense, on the CPU (Gloo); the buckets are allocated once. Not thread-safe: the training thread
 * calls it.
 */
final class GradientAllReduce {
    /** The largest bucket, in bytes: 25 MiB, DDP's default {@code bucket_cap_mb}. */
    static final long BUCKET_BYTES = 25L << 20;

    private final DistributedGroup group;
    private final Module model;
    private final List<Bucket> buckets = new ArrayList<>();
    private long reduceNanos;
    private long reductions;

    private record Bucket(Tensor[] params, Tensor flat) {}

    /**
     * @param group the job's process group
     * @param model the model being trained; its trainable parameters ({@code requires_grad}) now are the ones whose
     *     gradients are averaged, in {@code named_parameters()} order
     * @param bucketBytes the largest bucket in bytes ({@link #BUCKET_BYTES})
     * @throws IllegalArgumentException if {@code bucketBytes < 1}
     */
    GradientAllReduce(DistributedGroup group, Module model, long bucketBytes) {
        if (bucketBytes < 1) throw new IllegalArgumentException("bucketBytes must be >= 1, got " + bucketBytes);
        this.group = group;
        this.model = model;
        List<Tensor> current = new ArrayList<>();
        long bytes = 0;
        ScalarType dtype = null;
        StringTensorDict np = model.named_parameters(true);
        for (long i = 0; i < np.size(); i++) {
            Tensor p = np.get(i).value();
            if (!p.requires_grad()) continue;
            long b = p.numel() * p.element_size();
            if (!current.isEmpty() && (bytes + b > bucketBytes || p.scalar_type() != dtype)) {
                buckets.add(bucket(current));
                current = new ArrayList<>();
                bytes = 0;
            }
            Tensor kept = new Tensor(p);
            kept.retainReference();
            current.add(kept);
            bytes += b;
            dtype = p.scalar_type();
        }
        if (!current.isEmpty()) buckets.add(bucket(current));
    }

    private static Bucket bucket(List<Tensor> params) {
        long n = 0;
        for (Tensor p : params) n += p.numel();
        Tensor flat = empty(new long[]{n}, new TensorOptions(params.get(0).scalar_type()), null);
        flat.retainReference();
        return new Bucket(params.toArray(Tensor[]::new), flat);
    }

    /** The number of buckets. */
    int bucketCount() {
        return buckets.size();
    }

    /** The values in all buckets (the trainable parameters' element count). */
    long values() {
        long n = 0;
        for (Bucket b : buckets) n += b.flat().numel();
        return n;
    }

    /**
     * Replaces every trainable parameter's gradient by its mean over the ranks (one c10d all-reduce per bucket).
     * Every rank must call it at the same step.
     *
     * @throws dev.frcnn.dist.DistributedException if c10d fails (a peer died, the timeout passed); names this rank
     */
    void averageGradients() {
        long t0 = System.nanoTime();
        try (PointerScope s = new PointerScope()) {
            for (Bucket b : buckets) {
                long off = 0;
                for (Tensor p : b.params()) {
                    Tensor g = p.grad();
                    if (!g.defined()) {
                        p.mutable_grad().put(zeros_like(p.detach()));
                        g = p.grad();
                    }
                    long n = p.numel();
                    b.flat().narrow(0, off, n).copy_(g.reshape(-1));
                    off += n;
                }
                group.allReduceMean(b.flat());
                off = 0;
                for (Tensor p : b.params()) {
                    Tensor g = p.grad();
                    long n = p.numel();
                    g.copy_(b.flat().narrow(0, off, n).view(g.sizes()));
                    off += n;
                }
            }
        }
        reduceNanos += System.nanoTime() - t0;
        reductions++;
    }

    /**
     * Copies rank 0's parameters and buffers (all of them, frozen ones included, in {@code named_parameters()} and
     * {@code named_buffers()} order) into every rank's model, in place. Every rank must call it at the same point.
     *
     * @throws dev.frcnn.dist.DistributedException if c10d fails; names this rank
     */
    void broadcastParameters() {
        try (PointerScope s = new PointerScope()) {
            StringTensorDict p = model.named_parameters(true), b = model.named_buffers(true);
            for (long i = 0; i < p.size(); i++) group.broadcast(p.get(i).value().detach(), 0);
            for (long i = 0; i < b.size(); i++) group.broadcast(b.get(i).value(), 0);
        }
    }

    /**
     * The mean time of {@link #averageGradients()} so far, in milliseconds (copies into and out of the buckets
     * included); NaN before the first.
     */
    double meanMillis() {
        return reductions == 0 ? Double.NaN : reduceNanos / 1e6 / reductions;
    }

    /** The calls of {@link #averageGradients()} timed since the last {@link #resetTimes()}. */
    long steps() {
        return reductions;
    }

    /** Forgets the times so far ({@link #meanMillis()}). */
    void resetTimes() {
        reduceNanos = 0;
        reductions = 0;
    }
}
