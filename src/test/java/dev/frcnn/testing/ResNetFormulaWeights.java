package dev.frcnn.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code resnet_c4} variant of the fixtures' formula weights (README, "Formula weights (resnet_c4)"):
 * {@code value = (float) (offset + b * scale)} with {@code b = 2u - 1} or {@code b = u},
 * {@code u = (splitmix64(k * 2^32 + i) >>> 11) * 2^-53}, double arithmetic, {@code b * scale} first, the offset
 * added only when non-zero. {@code k} numbers the state_dict entries without {@code num_batches_tracked}.
 */
public final class ResNetFormulaWeights {
    private ResNetFormulaWeights() {}

    /** One entry of {@code params.weights.params}: k, torchvision key, shape, numel, base ("2u-1" or "u"), scale, offset. */
    public record Entry(int k, String key, long[] shape, long numel, boolean baseU, double scale, double offset) {}

    /** The entries of a fixture's {@code params.weights.params}, in k order ({@code k = index + params.weights.k_offset}). */
    public static List<Entry> entries(Golden fixture) {
        JsonNode arr = fixture.params().path("weights").path("params");
        if (!arr.isArray() || arr.isEmpty()) throw new IllegalStateException(fixture.name() + ": no params.weights.params");
        List<Entry> out = new ArrayList<>();
        for (JsonNode p : arr) {
            JsonNode s = p.get("shape");
            long[] shape = new long[s.size()];
            for (int j = 0; j < shape.length; j++) shape[j] = s.get(j).asLong();
            String base = p.get("base").asText();
            if (!base.equals("u") && !base.equals("2u-1")) {
                throw new IllegalStateException(fixture.name() + ": unknown base '" + base + "' of " + p.get("key"));
            }
            out.add(new Entry(p.get("k").asInt(), p.get("key").asText(), shape, p.get("numel").asLong(),
                    base.equals("u"), p.get("scale").asDouble(), p.get("offset").asDouble()));
        }
        // k = index + params.weights.k_offset (tv_fpn: 0 public, 4096 held-out; absent = 0)
        int kOffset = fixture.params().path("weights").path("k_offset").asInt(0);
        for (int j = 0; j < out.size(); j++) {
            if (out.get(j).k() != j + kOffset) {
                throw new IllegalStateException(fixture.name() + ": params.weights.params not in k order at " + j
                        + " (k_offset " + kOffset + ")");
            }
        }
        return out;
    }

    /** The formula value of element {@code i} of entry {@code e}. */
    public static float value(Entry e, long i) {
        long x = FormulaWeights.splitmix64(((long) e.k() << 32) + i);
        double u = (x >>> 11) * 0x1.0p-53;
        double b = e.baseU() ? u : 2.0 * u - 1.0;
        double v = b * e.scale();
        if (e.offset() != 0.0) v = e.offset() + v;
        return (float) v;
    }

    /**
     * Fills every target tensor named by a fixture entry; entries without a target (e.g. {@code fc.*}) are skipped.
     * Every target that is not a fixture entry must be a {@code num_batches_tracked} buffer (set to 0).
     *
     * @param targets torchvision key to the model's parameter or buffer (contiguous CPU float32)
     * @return the keys that were skipped (fixture entries without a target)
     * @throws IllegalStateException on a shape mismatch or a target that the fixture does not cover
     */
    public static List<String> fill(Map<String, Tensor> targets, Golden fixture) {
        List<Entry> entries = entries(fixture);
        Set<String> covered = new HashSet<>();
        List<String> skipped = new ArrayList<>();
        try (NoGradGuard g = new NoGradGuard()) {
            for (Entry e : entries) {
                Tensor t = targets.get(e.key());
                if (t == null) {
                    skipped.add(e.key());
                    continue;
                }
                if (!Arrays.equals(Tensors.shape(t), e.shape())) {
                    throw new IllegalStateException(e.key() + ": model shape " + Tensors.shapeString(t) + ", fixture "
                            + Arrays.toString(e.shape()));
                }
                if (!Tensors.isType(t, ScalarType.Float) || !t.is_contiguous() || t.is_cuda()) {
                    throw new IllegalStateException(e.key() + ": expected a contiguous CPU float32 tensor");
                }
                FormulaWeights.fillTensor(t, i -> value(e, i));
                covered.add(e.key());
            }
            for (Map.Entry<String, Tensor> t : targets.entrySet()) {
                if (covered.contains(t.getKey())) continue;
                if (!t.getKey().endsWith("num_batches_tracked")) {
                    throw new IllegalStateException("model tensor " + t.getKey() + " has no fixture entry");
                }
                t.getValue().zero_();
            }
        }
        return skipped;
    }
}
