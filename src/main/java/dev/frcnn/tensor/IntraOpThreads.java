package dev.frcnn.tensor;

import org.bytedeco.pytorch.global.torch;

/**
 * The one place where the {@code threads} setting (config {@code threads}, {@code bench --threads},
 * {@code DetectorOptions.intraOpThreads}) reaches LibTorch: {@code torch.set_num_threads}, process-wide.
 */
public final class IntraOpThreads {
    private IntraOpThreads() {}

    /**
     * Sets LibTorch's intra-op threads.
     *
     * @param threads the number of threads; 0 keeps LibTorch's setting (one per core)
     * @throws IllegalArgumentException if negative
     */
    public static void apply(int threads) {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        if (threads > 0) torch.set_num_threads(threads);
    }
}
