package dev.frcnn.testing;

import dev.frcnn.ops.nativeops.NativeOps;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * CUDA gate for tests (tag "cuda"): {@link #assumeAvailable()} skips a test, with the reason in the JUnit report,
 * unless LibTorch sees a CUDA device and {@code libfrcnn_ops} has the CUDA kernels. Run them with
 * {@code mvn -B test -Pgpu -Dgroups=cuda} (docs/gpu.md).
 */
public final class Cuda {
    private Cuda() {}

    /** Skips the calling test unless CUDA is usable by both LibTorch and the native ops. */
    public static void assumeAvailable() {
        boolean torchCuda;
        try {
            torchCuda = org.bytedeco.pytorch.global.torch.cuda_is_available();
        } catch (Throwable t) {
            torchCuda = false;
        }
        assumeTrue(torchCuda, "CUDA tests skipped: torch.cuda_is_available() is false (CPU LibTorch build or no "
                + "device; run with -Pgpu on a GPU machine, docs/gpu.md)");
        assumeTrue(NativeOps.get().builtWithCuda(), "CUDA tests skipped: libfrcnn_ops was built without the CUDA "
                + "kernels (-Dfrcnn.cuda=OFF or no nvcc)");
        assumeTrue(NativeOps.get().cudaDeviceCount() > 0, "CUDA tests skipped: libfrcnn_ops sees no CUDA device");
        // Parity tolerances are float32's: no TF32 in cuDNN convolutions or matmuls.
        org.bytedeco.pytorch.global.torch.globalContext().setAllowTF32CuDNN(false);
        org.bytedeco.pytorch.global.torch.globalContext().setFloat32MatmulPrecision("highest");
    }

    /** The first CUDA device. */
    public static Device device() {
        return new Device("cuda:0");
    }

    /** {@code t} copied to the first CUDA device. */
    public static Tensor toCuda(Tensor t) {
        return t.to(device(), t.scalar_type());
    }

    /** {@code t} copied to the host, after checking it was computed on CUDA. */
    public static Tensor fromCuda(Tensor t, String what) {
        if (!t.device().is_cuda()) throw new AssertionError(what + " was not computed on the CUDA device");
        return t.cpu();
    }
}
