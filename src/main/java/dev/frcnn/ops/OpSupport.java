package dev.frcnn.ops;

import dev.frcnn.ops.nativeops.CudaStreams;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.MemorySegment;

/** Argument checks and tensor-to-native plumbing shared by {@link Nms} and {@link RoIPool}. */
final class OpSupport {
    private OpSupport() {}

    /** Address of a contiguous tensor's data (NULL for an empty tensor). */
    static MemorySegment seg(Tensor contiguous) {
        return contiguous.numel() == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(contiguous.data_ptr().address());
    }

    static void requireDefined(Tensor t, String what) {
        if (t == null || t.isNull() || !t.defined()) throw new IllegalArgumentException(what + " is null or undefined");
    }

    static void requireFloat(Tensor t, String what) {
        if (!Tensors.isType(t, ScalarType.Float)) {
            throw new IllegalArgumentException(what + " has dtype " + Tensors.typeName(t)
                    + ", expected Float (float32)");
        }
    }

    static void requireLong(Tensor t, String what) {
        if (!Tensors.isType(t, ScalarType.Long)) {
            throw new IllegalArgumentException(what + " has dtype " + Tensors.typeName(t) + ", expected Long (int64)");
        }
    }

    static String device(Tensor t) {
        return t.device().str().getString();
    }

    static void requireSameDevice(Tensor a, String aName, Tensor b, String bName) {
        String da = device(a), db = device(b);
        if (!da.equals(db)) {
            throw new IllegalArgumentException(aName + " is on " + da + " but " + bName + " is on " + db);
        }
    }

    /** True for CUDA tensors; other non-CPU devices are rejected. */
    static boolean isCuda(Tensor t, String what) {
        if (t.is_cuda()) return true;
        if (!t.is_cpu()) throw new IllegalArgumentException(what + " is on " + device(t) + ": only CPU and CUDA are supported");
        return false;
    }

    /** The current LibTorch CUDA stream of a CUDA tensor's device. */
    static long stream(Tensor cudaTensor) {
        return CudaStreams.currentStream(cudaTensor.device().index());
    }
}
