package dev.frcnn.ops;

import dev.frcnn.ops.nativeops.CudaStreams;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.MemorySegment;

/** Argument checks and tensor-to-native plumbing shared by {@link Nms}, {@link RoIPool} and {@link RoIAlign}. */
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

    /** The pooled output size of RoIPool/RoIAlign: both sides {@code > 0}. */
    static void requirePooledSize(int pooledH, int pooledW) {
        if (pooledH <= 0 || pooledW <= 0) {
            throw new IllegalArgumentException("pooled size must be positive, got (" + pooledH + ", " + pooledW + ")");
        }
    }

    /** {@code spatialScale} rounded to float32, as torchvision does; it must be finite before and after. */
    static float float32Scale(double spatialScale) {
        if (!Double.isFinite(spatialScale) || !Float.isFinite((float) spatialScale)) {
            throw new IllegalArgumentException("spatialScale must be finite, got " + spatialScale);
        }
        return (float) spatialScale;
    }

    /** RoI rows: an (R, 5) float32 tensor of (batch_index, x1, y1, x2, y2). */
    static void requireRoIRows(Tensor rois, String what) {
        if (rois.dim() != 2 || rois.size(1) != 5) {
            throw new IllegalArgumentException(what + " must have shape (R, 5) rows (batch_index, x1, y1, x2,"
                    + " y2), got " + Tensors.shapeString(rois));
        }
        requireFloat(rois, what);
    }

    /** A RoI op's inputs: an (N, C, H, W) float32 feature map and RoI rows ({@link #requireRoIRows}) on its device. */
    static void requireFeatureAndRoIs(Tensor input, Tensor rois, String roisName) {
        requireDefined(input, "input");
        requireDefined(rois, roisName);
        if (input.dim() != 4) {
            throw new IllegalArgumentException("input must have shape (N, C, H, W), got " + Tensors.shapeString(input));
        }
        requireRoIRows(rois, roisName);
        requireFloat(input, "input");
        requireSameDevice(input, "input", rois, roisName);
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
