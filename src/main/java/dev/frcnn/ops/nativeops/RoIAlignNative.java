package dev.frcnn.ops.nativeops;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Panama bindings to the RoIAlign entry points of {@code libfrcnn_ops.so} ({@code frcnn_roi_align_*} in
 * {@code native/include/frcnn_ops.h}), kept next to {@link NativeOps} and loaded from the same library file
 * ({@link NativeOps#libraryPath()}, after its ABI check).
 *
 * <p>Conventions are {@link NativeOps}'s: raw addresses as {@link MemorySegment}s (host memory for {@code *Cpu},
 * device memory for {@code *Cuda}), element counts as sizes, the CUDA stream as a {@code long}; {@code aligned} is
 * passed as 0/1. Error codes become exceptions: invalid argument → {@link IllegalArgumentException}, no CUDA →
 * {@link UnsupportedOperationException}, CUDA/allocation failures → {@link IllegalStateException}. Thread-safe.
 */
public final class RoIAlignNative {
    private static final int ERR_LEN = 512;

    private static final class Holder {
        static final RoIAlignNative INSTANCE = new RoIAlignNative(NativeOps.get());
    }

    private final MethodHandle gridCpu, gridCuda, fwdCpu, fwdCuda, bwdCpu, bwdCuda, weightsCpu, weightsCuda;

    /** The bindings (loads the library on the first call). @throws IllegalStateException if it cannot be loaded */
    public static RoIAlignNative get() {
        return Holder.INSTANCE;
    }

    private RoIAlignNative(NativeOps ops) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup lookup = SymbolLookup.libraryLookup(ops.libraryPath(), Arena.global());
        // rois, n_rois, batch, scale, pooled_h, pooled_w, sampling_ratio, aligned, grid_hw, [stream], err, err_len
        gridCpu = handle(linker, lookup, "frcnn_roi_align_grid_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS,
                ADDRESS, JAVA_LONG));
        gridCuda = handle(linker, lookup, "frcnn_roi_align_grid_cuda", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS, JAVA_LONG));
        // input, batch, channels, height, width, rois, n_rois, scale, pooled_h, pooled_w, sr, aligned, output, [stream], err, err_len
        fwdCpu = handle(linker, lookup, "frcnn_roi_align_forward_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_FLOAT, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        fwdCuda = handle(linker, lookup, "frcnn_roi_align_forward_cuda", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_FLOAT, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        // grad_output, rois, n_rois, batch, channels, height, width, scale, pooled_h, pooled_w, sr, aligned, grad_input, [stream], err, err_len
        bwdCpu = handle(linker, lookup, "frcnn_roi_align_backward_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        bwdCuda = handle(linker, lookup, "frcnn_roi_align_backward_cuda", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        // rois, n_rois, batch, height, width, scale, pooled_h, pooled_w, sr, aligned, roi_offsets, n_entries, index, weight, [stream], err, err_len
        weightsCpu = handle(linker, lookup, "frcnn_roi_align_weights_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        weightsCuda = handle(linker, lookup, "frcnn_roi_align_weights_cuda", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    }

    private static MethodHandle handle(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd) {
        MemorySegment sym = lookup.find(name).orElseThrow(() -> new IllegalStateException(
                "native ops library lacks the symbol " + name + " (rebuild native/)"));
        return linker.downcallHandle(sym, fd);
    }

    /**
     * {@code frcnn_roi_align_grid_cpu}: the sampling grid of every roi.
     *
     * @param rois (nRois, 5) float32 rows (batch_index, x1, y1, x2, y2)
     * @param batch batch size of the feature map (for the batch index check)
     * @param gridHw (nRois, 2) int64, written: (grid_h, grid_w), torchvision's raw value (may be &lt;= 0)
     */
    public void gridCpu(MemorySegment rois, long nRois, long batch, float spatialScale, long pooledH, long pooledW,
                        long samplingRatio, boolean aligned, MemorySegment gridHw) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) gridCpu.invokeExact(rois, nRois, batch, spatialScale, pooledH, pooledW, samplingRatio,
                    aligned ? 1 : 0, gridHw, err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_align_grid_cpu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_roi_align_grid_cuda}: as {@link #gridCpu} on device memory; synchronises {@code stream}. */
    public void gridCuda(MemorySegment rois, long nRois, long batch, float spatialScale, long pooledH, long pooledW,
                         long samplingRatio, boolean aligned, MemorySegment gridHw, long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) gridCuda.invokeExact(rois, nRois, batch, spatialScale, pooledH, pooledW, samplingRatio,
                    aligned ? 1 : 0, gridHw, MemorySegment.ofAddress(stream), err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_align_grid_cuda");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code frcnn_roi_align_forward_cpu}: torchvision RoIAlign forward (bit-identical to torchvision's CPU kernel).
     *
     * @param input (batch, channels, height, width) float32
     * @param rois (nRois, 5) float32 rows (batch_index, x1, y1, x2, y2)
     * @param output (nRois, channels, pooledH, pooledW) float32, written
     */
    public void forwardCpu(MemorySegment input, long batch, long channels, long height, long width, MemorySegment rois,
                           long nRois, float spatialScale, long pooledH, long pooledW, long samplingRatio,
                           boolean aligned, MemorySegment output) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) fwdCpu.invokeExact(input, batch, channels, height, width, rois, nRois, spatialScale,
                    pooledH, pooledW, samplingRatio, aligned ? 1 : 0, output, err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_align_forward_cpu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_roi_align_forward_cuda}: as {@link #forwardCpu} on device memory; synchronises {@code stream}. */
    public void forwardCuda(MemorySegment input, long batch, long channels, long height, long width,
                            MemorySegment rois, long nRois, float spatialScale, long pooledH, long pooledW,
                            long samplingRatio, boolean aligned, MemorySegment output, long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) fwdCuda.invokeExact(input, batch, channels, height, width, rois, nRois, spatialScale,
                    pooledH, pooledW, samplingRatio, aligned ? 1 : 0, output, MemorySegment.ofAddress(stream), err,
                    (long) ERR_LEN);
            check(rc, err, "frcnn_roi_align_forward_cuda");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code frcnn_roi_align_backward_cpu}: zeroes {@code gradInput} (batch, channels, height, width) float32 and
     * scatters {@code gradOutput} (nRois, channels, pooledH, pooledW) in torchvision's order.
     */
    public void backwardCpu(MemorySegment gradOutput, MemorySegment rois, long nRois, long batch, long channels,
                            long height, long width, float spatialScale, long pooledH, long pooledW,
                            long samplingRatio, boolean aligned, MemorySegment gradInput) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) bwdCpu.invokeExact(gradOutput, rois, nRois, batch, channels, height, width, spatialScale,
                    pooledH, pooledW, samplingRatio, aligned ? 1 : 0, gradInput, err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_align_backward_cpu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_roi_align_backward_cuda}: as {@link #backwardCpu} on device memory (atomicAdd order). */
    public void backwardCuda(MemorySegment gradOutput, MemorySegment rois, long nRois, long batch, long channels,
                             long height, long width, float spatialScale, long pooledH, long pooledW,
                             long samplingRatio, boolean aligned, MemorySegment gradInput, long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) bwdCuda.invokeExact(gradOutput, rois, nRois, batch, channels, height, width, spatialScale,
                    pooledH, pooledW, samplingRatio, aligned ? 1 : 0, gradInput, MemorySegment.ofAddress(stream), err,
                    (long) ERR_LEN);
            check(rc, err, "frcnn_roi_align_backward_cuda");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code frcnn_roi_align_weights_cpu}: the sparse bilinear map (entry order (ph, pw, iy, ix, corner) per roi).
     *
     * @param roiOffsets (nRois,) int64 first entry of each roi
     * @param nEntries capacity of {@code index} and {@code weight}
     * @param index (nEntries,) int64, written: {@code b * H * W + y * W + x}, or {@code batch * H * W} for an
     *     out-of-range sample
     * @param weight (nEntries,) float32, written: the bilinear weights (0 for out-of-range samples)
     */
    public void weightsCpu(MemorySegment rois, long nRois, long batch, long height, long width, float spatialScale,
                           long pooledH, long pooledW, long samplingRatio, boolean aligned, MemorySegment roiOffsets,
                           long nEntries, MemorySegment index, MemorySegment weight) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) weightsCpu.invokeExact(rois, nRois, batch, height, width, spatialScale, pooledH, pooledW,
                    samplingRatio, aligned ? 1 : 0, roiOffsets, nEntries, index, weight, err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_align_weights_cpu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_roi_align_weights_cuda}: as {@link #weightsCpu} on device memory; synchronises {@code stream}. */
    public void weightsCuda(MemorySegment rois, long nRois, long batch, long height, long width, float spatialScale,
                            long pooledH, long pooledW, long samplingRatio, boolean aligned, MemorySegment roiOffsets,
                            long nEntries, MemorySegment index, MemorySegment weight, long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) weightsCuda.invokeExact(rois, nRois, batch, height, width, spatialScale, pooledH, pooledW,
                    samplingRatio, aligned ? 1 : 0, roiOffsets, nEntries, index, weight,
                    MemorySegment.ofAddress(stream), err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_align_weights_cuda");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void check(int rc, MemorySegment err, String fn) {
        if (rc == NativeOps.OK) return;
        String msg = err.getString(0);
        if (msg.isEmpty()) msg = fn + " failed with code " + rc;
        switch (rc) {
            case NativeOps.ERR_INVALID_ARGUMENT -> throw new IllegalArgumentException(msg);
            case NativeOps.ERR_NO_CUDA -> throw new UnsupportedOperationException(
                    "CUDA op unavailable: the native ops library was built without CUDA or no CUDA device/driver is"
                            + " usable (" + msg + ")");
            case NativeOps.ERR_ALLOC -> throw new IllegalStateException("out of memory: " + msg);
            default -> throw new IllegalStateException(msg + " (code " + rc + ")");
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
