package dev.frcnn.ops.nativeops;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Panama (java.lang.foreign) bindings to {@code libfrcnn_ops.so}, the C ABI of {@code native/include/frcnn_ops.h}.
 *
 * <p>The library is loaded on first use: from the path in the system property {@code frcnn.native.lib} if set,
 * otherwise from the classpath resource {@code /native/linux-x86_64/libfrcnn_ops.so} (extracted once to a temporary
 * file that is deleted on exit). Its ABI version must equal {@link #ABI_VERSION}.
 *
 * <p>All methods take raw memory addresses as {@link MemorySegment}s (for tensors:
 * {@code MemorySegment.ofAddress(t.data_ptr().address())} of a contiguous tensor): host memory for the {@code *Cpu}
 * methods, device memory for the {@code *Cuda} methods, which also take a {@code cudaStream_t} as a {@code long}
 * (0 = the legacy default stream). Sizes are element counts. Native error codes become exceptions:
 * <ul>
 *   <li>{@code FRCNN_ERR_INVALID_ARGUMENT} → {@link IllegalArgumentException} with the native message;</li>
 *   <li>{@code FRCNN_ERR_NO_CUDA} → {@link UnsupportedOperationException} (library built without CUDA, or no CUDA
 *       device/driver);</li>
 *   <li>{@code FRCNN_ERR_CUDA}, {@code FRCNN_ERR_ALLOC} and unknown codes → {@link IllegalStateException}.</li>
 * </ul>
 * This class is thread-safe: every call uses its own confined arena for the 512-byte error buffer.
 */
public final class NativeOps {
    /** The ABI version this class was written for ({@code FRCNN_ABI_VERSION}). */
    public static final int ABI_VERSION = 2;
    /** Return codes of the C ABI. */
    public static final int OK = 0, ERR_INVALID_ARGUMENT = 1, ERR_NO_CUDA = 2, ERR_CUDA = 3, ERR_ALLOC = 4;
    /** System property naming an explicit library path. */
    public static final String LIB_PROPERTY = "frcnn.native.lib";
    /** Classpath resource of the bundled library. */
    public static final String LIB_RESOURCE = "/native/linux-x86_64/libfrcnn_ops.so";

    private static final int ERR_LEN = 512;

    private static final class Holder {
        static final NativeOps INSTANCE = new NativeOps(locateLibrary());
    }

    private final Path libraryPath;
    private final MethodHandle abiVersion, builtWithCuda, cudaDeviceCount;
    private final MethodHandle nmsCpu, nmsCuda;
    private final MethodHandle roiFwdCpu, roiFwdCuda, roiBwdCpu, roiBwdCuda, roiGatherCpu;
    private final MethodHandle sgdStepCpu;

    /** The loaded library (loads it on the first call). @throws IllegalStateException if it cannot be loaded */
    public static NativeOps get() {
        return Holder.INSTANCE;
    }

    private NativeOps(Path lib) {
        this.libraryPath = lib;
        Linker linker = Linker.nativeLinker();
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(lib, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("cannot load the native ops library " + lib + ": " + e.getMessage(), e);
        }
        abiVersion = handle(linker, lookup, "frcnn_abi_version", FunctionDescriptor.of(JAVA_INT));
        builtWithCuda = handle(linker, lookup, "frcnn_built_with_cuda", FunctionDescriptor.of(JAVA_INT));
        cudaDeviceCount = handle(linker, lookup, "frcnn_cuda_device_count", FunctionDescriptor.of(JAVA_INT));
        // boxes, scores, n, thr, max_keep, keep, n_keep, [stream], err, err_len
        nmsCpu = handle(linker, lookup, "frcnn_nms_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, JAVA_LONG, JAVA_DOUBLE, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        nmsCuda = handle(linker, lookup, "frcnn_nms_cuda", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, JAVA_LONG, JAVA_DOUBLE, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        // input, batch, channels, height, width, rois, n_rois, scale, pooled_h, pooled_w, output, argmax, [stream], err, err_len
        roiFwdCpu = handle(linker, lookup, "frcnn_roi_pool_forward_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_FLOAT, JAVA_LONG,
                JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        roiFwdCuda = handle(linker, lookup, "frcnn_roi_pool_forward_cuda", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_FLOAT, JAVA_LONG,
                JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        // grad_output, argmax, rois, n_rois, batch, channels, height, width, pooled_h, pooled_w, grad_input, [stream], err, err_len
        roiBwdCpu = handle(linker, lookup, "frcnn_roi_pool_backward_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
        roiBwdCuda = handle(linker, lookup, "frcnn_roi_pool_backward_cuda", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        // argmax, output, rois, n_rois, batch, channels, height, width, pooled_h, pooled_w, fill_base, index, err, err_len
        roiGatherCpu = handle(linker, lookup, "frcnn_roi_pool_gather_index_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
        sgdStepCpu = handle(linker, lookup, "frcnn_sgd_step_cpu", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_DOUBLE, JAVA_DOUBLE, JAVA_DOUBLE, JAVA_INT, ADDRESS,
                JAVA_LONG));
        int v = abiVersion();
        if (v != ABI_VERSION) {
            throw new IllegalStateException("native ops library " + lib + " has ABI version " + v + ", expected "
                    + ABI_VERSION + " (rebuild native/ with this version of the Java code)");
        }
    }

    private static MethodHandle handle(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd) {
        MemorySegment sym = lookup.find(name).orElseThrow(
                () -> new IllegalStateException("native ops library lacks the symbol " + name));
        return linker.downcallHandle(sym, fd);
    }

    private static Path locateLibrary() {
        String explicit = System.getProperty(LIB_PROPERTY);
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            if (!Files.isRegularFile(p)) {
                throw new IllegalStateException("-D" + LIB_PROPERTY + "=" + explicit + ": no such file");
            }
            return p.toAbsolutePath();
        }
        try (InputStream in = NativeOps.class.getResourceAsStream(LIB_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("native ops library not found: classpath resource " + LIB_RESOURCE
                        + " is missing (build native/ with the Maven build, or set -D" + LIB_PROPERTY + "=PATH)");
            }
            Path tmp = Files.createTempFile("libfrcnn_ops", ".so");
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + LIB_RESOURCE + " to a temporary file", e);
        }
    }

    /** The file the library was loaded from. */
    public Path libraryPath() {
        return libraryPath;
    }

    /** {@code frcnn_abi_version()}. */
    public int abiVersion() {
        try {
            return (int) abiVersion.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_built_with_cuda()}: true if the library contains the CUDA kernels. */
    public boolean builtWithCuda() {
        try {
            return (int) builtWithCuda.invokeExact() != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_cuda_device_count()}: visible CUDA devices, 0 without CUDA or without a driver. Never throws. */
    public int cudaDeviceCount() {
        try {
            return (int) cudaDeviceCount.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code frcnn_nms_cpu}: torchvision NMS on host memory.
     *
     * @param boxes (n, 4) float32 rows (a1, b1, a2, b2)
     * @param scores (n,) float32, no NaN
     * @param keep int64 buffer of capacity n; receives the kept indices in descending score order
     * @param maxKeep stop after this many kept boxes ({@code < 0}: no limit)
     * @return the number of kept indices written to {@code keep}
     */
    public long nmsCpu(MemorySegment boxes, MemorySegment scores, long n, double iouThreshold, long maxKeep,
                       MemorySegment keep) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN), nKeep = a.allocate(JAVA_LONG);
            int rc = (int) nmsCpu.invokeExact(boxes, scores, n, iouThreshold, maxKeep, keep, nKeep, err, (long) ERR_LEN);
            check(rc, err, "frcnn_nms_cpu");
            return nKeep.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_nms_cuda}: as {@link #nmsCpu} on device memory; synchronises {@code stream}. */
    public long nmsCuda(MemorySegment boxes, MemorySegment scores, long n, double iouThreshold, long maxKeep,
                        MemorySegment keep, long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN), nKeep = a.allocate(JAVA_LONG);
            int rc = (int) nmsCuda.invokeExact(boxes, scores, n, iouThreshold, maxKeep, keep, nKeep,
                    MemorySegment.ofAddress(stream), err, (long) ERR_LEN);
            check(rc, err, "frcnn_nms_cuda");
            return nKeep.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code frcnn_roi_pool_forward_cpu}: torchvision RoIPool forward on host memory.
     *
     * @param input (batch, channels, height, width) float32
     * @param rois (nRois, 5) float32 rows (batch_index, x1, y1, x2, y2)
     * @param output (nRois, channels, pooledH, pooledW) float32, written
     * @param argmax (nRois, channels, pooledH, pooledW) int64, written (h * width + w, or -1 for an empty bin)
     */
    public void roiPoolForwardCpu(MemorySegment input, long batch, long channels, long height, long width,
                                  MemorySegment rois, long nRois, float spatialScale, long pooledH, long pooledW,
                                  MemorySegment output, MemorySegment argmax) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) roiFwdCpu.invokeExact(input, batch, channels, height, width, rois, nRois, spatialScale,
                    pooledH, pooledW, output, argmax, err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_pool_forward_cpu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_roi_pool_forward_cuda}: as {@link #roiPoolForwardCpu} on device memory; synchronises {@code stream}. */
    public void roiPoolForwardCuda(MemorySegment input, long batch, long channels, long height, long width,
                                   MemorySegment rois, long nRois, float spatialScale, long pooledH, long pooledW,
                                   MemorySegment output, MemorySegment argmax, long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) roiFwdCuda.invokeExact(input, batch, channels, height, width, rois, nRois, spatialScale,
                    pooledH, pooledW, output, argmax, MemorySegment.ofAddress(stream), err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_pool_forward_cuda");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code frcnn_sgd_step_cpu}: one SGD-with-momentum step over {@code n} float32 values in one pass, bit-identical
     * to LibTorch's {@code SGD::step} (dampening 0, not Nesterov); {@code initBuffer} on a parameter's first step.
     */
    public void sgdStepCpu(MemorySegment param, MemorySegment grad, MemorySegment momentumBuffer, long n, double lr,
                           double weightDecay, double momentum, boolean initBuffer) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) sgdStepCpu.invokeExact(param, grad, momentumBuffer, n, lr, weightDecay, momentum,
                    initBuffer ? 1 : 0, err, (long) ERR_LEN);
            check(rc, err, "frcnn_sgd_step_cpu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code frcnn_roi_pool_backward_cpu}: zeroes {@code gradInput} (batch, channels, height, width) float32 and adds
     * every gradOutput cell at its argmax, in (roi, channel, ph, pw) order.
     */
    public void roiPoolBackwardCpu(MemorySegment gradOutput, MemorySegment argmax, MemorySegment rois, long nRois,
                                   long batch, long channels, long height, long width, long pooledH, long pooledW,
                                   MemorySegment gradInput) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) roiBwdCpu.invokeExact(gradOutput, argmax, rois, nRois, batch, channels, height, width,
                    pooledH, pooledW, gradInput, err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_pool_backward_cpu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code frcnn_roi_pool_backward_cuda}: as {@link #roiPoolBackwardCpu} on device memory (atomicAdd order). */
    public void roiPoolBackwardCuda(MemorySegment gradOutput, MemorySegment argmax, MemorySegment rois, long nRois,
                                    long batch, long channels, long height, long width, long pooledH, long pooledW,
                                    MemorySegment gradInput, long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) roiBwdCuda.invokeExact(gradOutput, argmax, rois, nRois, batch, channels, height, width,
                    pooledH, pooledW, gradInput, MemorySegment.ofAddress(stream), err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_pool_backward_cuda");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code frcnn_roi_pool_gather_index_cpu}: for every forward output cell, the index into
     * {@code concat(input.reshape(-1), [0, -FLT_MAX])} that reproduces the output: the input element at the argmax,
     * {@code fillBase} for an empty bin, {@code fillBase + 1} for a bin of only NaN/-inf.
     *
     * @param argmax (nRois, channels, pooledH, pooledW) int64 from the forward
     * @param output (nRois, channels, pooledH, pooledW) float32 from the forward
     * @param index (nRois, channels, pooledH, pooledW) int64, written
     */
    public void roiPoolGatherIndexCpu(MemorySegment argmax, MemorySegment output, MemorySegment rois, long nRois,
                                      long batch, long channels, long height, long width, long pooledH, long pooledW,
                                      long fillBase, MemorySegment index) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(ERR_LEN);
            int rc = (int) roiGatherCpu.invokeExact(argmax, output, rois, nRois, batch, channels, height, width,
                    pooledH, pooledW, fillBase, index, err, (long) ERR_LEN);
            check(rc, err, "frcnn_roi_pool_gather_index_cpu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void check(int rc, MemorySegment err, String fn) {
        if (rc == OK) return;
        String msg = err.getString(0);
        if (msg.isEmpty()) msg = fn + " failed with code " + rc;
        switch (rc) {
            case ERR_INVALID_ARGUMENT -> throw new IllegalArgumentException(msg);
            case ERR_NO_CUDA -> throw new UnsupportedOperationException(
                    "CUDA op unavailable: the native ops library was built without CUDA or no CUDA device/driver is"
                            + " usable (" + msg + ")");
            case ERR_ALLOC -> throw new IllegalStateException("out of memory: " + msg);
            default -> throw new IllegalStateException(msg + " (code " + rc + ")");
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
