package dev.frcnn.tensor;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Keeps the native heap bounded when glibc is told to keep freed memory.
 *
 * <p>{@code bin/frcnn} starts the JVM with {@code MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0
 * MALLOC_TRIM_THRESHOLD_=<64 GiB>}: LibTorch's large buffers are then reused from the heap instead of being
 * mapped and page-faulted in again every step (docs/performance.md). The price is fragmentation: blocks of
 * hundreds of MB freed in a different order than they were allocated leave holes that later, larger blocks do not
 * fit, so the heap keeps growing (ResNet-50 C4 inference: 4.9 GB to 7.8 GB over 60 calls). So
 * {@link #iterationDone()} calls glibc's {@code malloc_trim(0)}, which gives the pages of free holes back to the
 * kernel, once at least {@link #PERIOD} iterations and {@link #MIN_INTERVAL_SECONDS} seconds have passed since the
 * last trim; the next iteration faults in what it needs again. Both bounds keep the re-faulting cheap: about 2% of
 * a VGG16 step (a trim every 16 steps), and nothing measurable for the demo's 90 ms steps (a trim every 30 s; one
 * every 16 steps made its training 12% slower).
 *
 * <p>{@link dev.frcnn.model.FasterRCNN#predict}, {@link dev.frcnn.model.TorchvisionFasterRCNN#detect(
 * org.bytedeco.pytorch.Tensor, dev.frcnn.data.Preprocessing, dev.frcnn.model.roi.Thresholds)} and the two families' train
 * steps call {@link #iterationDone()}; nothing else needs to. Without {@code MALLOC_MMAP_MAX_=0} (glibc's defaults, or
 * another C library) it does nothing: glibc's defaults return large blocks by themselves.
 */
public final class NativeHeap {
    /**
     * Least number of iterations between two trims. The system property {@code frcnn.heapTrimPeriod} overrides it;
     * 0 turns the trims off.
     */
    public static final int PERIOD = Integer.getInteger("frcnn.heapTrimPeriod", 16);
    /** Least number of seconds between two trims. */
    public static final int MIN_INTERVAL_SECONDS = 30;

    private static final boolean KEEPS_FREED_MEMORY = "0".equals(System.getenv("MALLOC_MMAP_MAX_"));
    private static final MethodHandle MALLOC_TRIM = lookupMallocTrim();
    private static long iterationsSinceTrim;
    private static long lastTrimNanos = System.nanoTime();

    private NativeHeap() {}

    private static MethodHandle lookupMallocTrim() {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("malloc_trim")
                    .map(a -> linker.downcallHandle(a, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /**
     * Whether periodic trims are on: glibc's {@code malloc_trim} exists, {@code MALLOC_MMAP_MAX_=0} is set and
     * {@link #PERIOD} is not 0.
     */
    public static boolean trimsPeriodically() {
        return KEEPS_FREED_MEMORY && MALLOC_TRIM != null && PERIOD > 0;
    }

    /**
     * Marks the end of one predict call or train step; trims the heap when {@link #trimsPeriodically()} and at
     * least {@link #PERIOD} iterations and {@link #MIN_INTERVAL_SECONDS} seconds have passed since the last trim.
     * Thread-safe.
     */
    public static void iterationDone() {
        if (!trimsPeriodically()) return;
        synchronized (NativeHeap.class) {
            long now = System.nanoTime();
            if (++iterationsSinceTrim < PERIOD || now - lastTrimNanos < MIN_INTERVAL_SECONDS * 1_000_000_000L) return;
            trim();
            iterationsSinceTrim = 0;
            lastTrimNanos = System.nanoTime();
        }
    }

    /**
     * Gives the free pages of the C heap back to the kernel now ({@code malloc_trim(0)}); does nothing where glibc's
     * {@code malloc_trim} is missing.
     *
     * @return whether memory was released
     */
    public static boolean trim() {
        if (MALLOC_TRIM == null) return false;
        try {
            return (int) MALLOC_TRIM.invokeExact(0L) != 0;
        } catch (Throwable t) {
            throw new IllegalStateException("malloc_trim failed", t);
        }
    }
}
