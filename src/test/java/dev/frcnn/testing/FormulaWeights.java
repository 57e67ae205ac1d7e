package dev.frcnn.testing;

import com.fasterxml.jackson.databind.JsonNode;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import dev.frcnn.tensor.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongToDoubleFunction;

/**
 * The golden fixtures' deterministic "formula weights" (README, "Formula weights"):
 * {@code value[k][i] = (float) ((2u - 1) * bound[k])}, {@code u = (splitmix64(k * 2^32 + i) >>> 11) * 2^-53},
 * k = position of the parameter in the state_dict key order, i = flat row-major index.
 */
public final class FormulaWeights {
    private FormulaWeights() {}

    /** One entry of {@code params.weights.params}. */
    public record Param(int k, String name, long[] shape, long numel, double bound, boolean requiresGrad) {}

    /** splitmix64 (all arithmetic mod 2^64). */
    public static long splitmix64(long x) {
        long z = x + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The formula value of element {@code i} of parameter {@code k} with the given bound. */
    public static float value(int k, long i, double bound) {
        long x = splitmix64(((long) k << 32) + i);
        double u = (x >>> 11) * 0x1.0p-53;
        return (float) ((2.0 * u - 1.0) * bound);
    }

    /** The parameter list of a fixture's {@code params.weights.params}, in k order. */
    public static List<Param> params(Golden fixture) {
        JsonNode arr = fixture.params().path("weights").path("params");
        if (!arr.isArray() || arr.isEmpty()) {
            throw new IllegalStateException(fixture.name() + ": no params.weights.params");
        }
        List<Param> out = new ArrayList<>();
        for (JsonNode p : arr) {
            JsonNode s = p.get("shape");
            long[] shape = new long[s.size()];
            for (int j = 0; j < shape.length; j++) shape[j] = s.get(j).asLong();
            out.add(new Param(p.get("k").asInt(), p.get("name").asText(), shape, p.get("numel").asLong(),
                    p.get("bound").asDouble(), p.path("requires_grad").asBoolean(true)));
        }
        for (int j = 0; j < out.size(); j++) {
            if (out.get(j).k() != j) throw new IllegalStateException("params not in k order at " + j);
        }
        return out;
    }

    /**
     * Fills every parameter of {@code model} with the formula weights of {@code fixture}. The model's
     * parameter names, their order and shapes must equal the fixture's list exactly.
     *
     * @throws IllegalStateException on any key, order or shape mismatch
     */
    public static void fill(Module model, Golden fixture) {
        List<Param> params = params(fixture);
        StringTensorDict named = model.named_parameters(true);
        List<String> names = new ArrayList<>();
        for (long j = 0; j < named.size(); j++) names.add(named.get(j).key().getString());
        List<String> expected = params.stream().map(Param::name).toList();
        if (!names.equals(expected)) {
            throw new IllegalStateException("model parameter keys differ from the fixture's:\n  model:   " + names
                    + "\n  fixture: " + expected);
        }
        try (NoGradGuard g = new NoGradGuard()) {
            for (Param p : params) {
                Tensor t = named.get(p.k()).value();
                if (!Arrays.equals(Tensors.shape(t), p.shape())) {
                    throw new IllegalStateException(p.name() + ": model shape " + Tensors.shapeString(t)
                            + ", fixture " + Arrays.toString(p.shape()));
                }
                if (!Tensors.isType(t, ScalarType.Float) || !t.is_contiguous() || t.is_cuda()) {
                    throw new IllegalStateException(p.name() + ": expected a contiguous CPU float32 parameter");
                }
                fillTensor(t, i -> value(p.k(), i, p.bound()));
            }
        }
    }

    /**
     * Writes {@code valueOf(i)} into flat element {@code i} of a contiguous CPU float32 tensor, in 1 M-element chunks.
     * The values are float32 already; the double in between is exact.
     */
    static void fillTensor(Tensor t, LongToDoubleFunction valueOf) {
        long n = t.numel();
        FloatPointer ptr = new FloatPointer(t.data_ptr_float());
        int chunk = 1 << 20;
        float[] buf = new float[(int) Math.min(chunk, n)];
        for (long off = 0; off < n; off += chunk) {
            int len = (int) Math.min(chunk, n - off);
            for (int j = 0; j < len; j++) buf[j] = (float) valueOf.applyAsDouble(off + j);
            ptr.position(off).put(buf, 0, len);
        }
    }
}
