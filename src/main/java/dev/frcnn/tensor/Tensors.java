package dev.frcnn.tensor;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Arrays;

import static org.bytedeco.pytorch.global.torch.*;

/**
 * Small helpers over LibTorch tensors: dtype checks, host copies, Java-array constructors.
 * JavaCPP returns enums from native code as new instances, so dtypes are compared by {@code value}.
 */
public final class Tensors {
    private Tensors() {}

    /** True if {@code t}'s dtype is {@code st} (compared by value; see the cheat sheet's pitfall 1). */
    public static boolean isType(Tensor t, ScalarType st) {
        return t.scalar_type().value == st.value;
    }

    /** A readable dtype name, e.g. {@code Float}, for error messages. */
    public static String typeName(Tensor t) {
        int v = t.scalar_type().value;
        for (ScalarType st : ScalarType.values()) if (st.value == v) return st.name();
        return "ScalarType(" + v + ")";
    }

    /** Shape as a Java array. */
    public static long[] shape(Tensor t) {
        return t.sizes().vec().get();
    }

    /** Shape as text, e.g. {@code [3, 4]}. */
    public static String shapeString(Tensor t) {
        return Arrays.toString(shape(t));
    }

    /** True if the tensor lives on a CUDA device. */
    public static boolean isCuda(Tensor t) {
        return t.is_cuda();
    }

    /** Copies any numeric tensor (any device) into a new float[] in row-major order. */
    public static float[] toFloatArray(Tensor t) {
        Tensor c = t.detach().to(ScalarType.Float).cpu().contiguous();
        float[] out = new float[(int) c.numel()];
        if (out.length > 0) c.data_ptr_float().get(out);
        return out;
    }

    /** Copies any numeric tensor (any device) into a new double[] in row-major order. */
    public static double[] toDoubleArray(Tensor t) {
        Tensor c = t.detach().to(ScalarType.Double).cpu().contiguous();
        double[] out = new double[(int) c.numel()];
        if (out.length > 0) c.data_ptr_double().get(out);
        return out;
    }

    /** Copies any integer/bool tensor (any device) into a new long[] in row-major order. */
    public static long[] toLongArray(Tensor t) {
        Tensor c = t.detach().to(ScalarType.Long).cpu().contiguous();
        long[] out = new long[(int) c.numel()];
        if (out.length > 0) c.data_ptr_long().get(out);
        return out;
    }

    /** A float32 CPU tensor of the given shape holding a copy of {@code data}. */
    public static Tensor fromFloats(float[] data, long... shape) {
        Tensor t = empty(shape, new TensorOptions(ScalarType.Float), null);
        if (data.length != t.numel()) {
            throw new IllegalArgumentException("data has " + data.length + " elements, shape "
                    + Arrays.toString(shape) + " needs " + t.numel());
        }
        if (data.length > 0) t.data_ptr_float().put(data);
        return t;
    }

    /** A float64 CPU tensor of the given shape holding a copy of {@code data}. */
    public static Tensor fromDoubles(double[] data, long... shape) {
        Tensor t = empty(shape, new TensorOptions(ScalarType.Double), null);
        if (data.length != t.numel()) {
            throw new IllegalArgumentException("data has " + data.length + " elements, shape "
                    + Arrays.toString(shape) + " needs " + t.numel());
        }
        if (data.length > 0) t.data_ptr_double().put(data);
        return t;
    }

    /** An int64 CPU tensor of the given shape holding a copy of {@code data}. */
    public static Tensor fromLongs(long[] data, long... shape) {
        Tensor t = empty(shape, new TensorOptions(ScalarType.Long), null);
        if (data.length != t.numel()) {
            throw new IllegalArgumentException("data has " + data.length + " elements, shape "
                    + Arrays.toString(shape) + " needs " + t.numel());
        }
        if (data.length > 0) t.data_ptr_long().put(data);
        return t;
    }
}
