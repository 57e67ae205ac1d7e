package dev.frcnn.io;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Copies a state dict into a LibTorch {@link Module} by name, like PyTorch's
 * {@code Module.load_state_dict(state_dict, strict)}.
 */
public final class WeightLoader {
    private WeightLoader() {}

    /**
     * What a non-strict load skipped (both lists empty after a strict load). Mirrors the
     * {@code _IncompatibleKeys(missing_keys, unexpected_keys)} that PyTorch returns.
     *
     * @param missingKeys    model keys the state dict lacks (left unchanged), in the model's order
     * @param unexpectedKeys state dict keys the model lacks (ignored), in the state dict's order
     */
    public record LoadResult(List<String> missingKeys, List<String> unexpectedKeys) {}

    /**
     * Copies every entry of {@code sd} into the parameter or buffer of the same name
     * ({@code module.named_parameters(true)} / {@code named_buffers(true)}, names as in Python, e.g.
     * {@code head.classifier.0.weight}). Everything is checked first, and nothing is copied if a check
     * fails. Values are converted to the target's dtype and device ({@code copy_} under a
     * {@link NoGradGuard}); shapes must match exactly.
     *
     * @param module the model
     * @param sd     name to tensor (e.g. from {@link PthReader#readStateDict})
     * @param strict if true, missing and unexpected keys are errors; if false they are skipped and returned
     * @return the skipped keys (empty lists when strict)
     * @throws WeightsMismatchException listing, in one message, all shape mismatches and (if strict) all missing
     *                                  and unexpected keys
     */
    public static LoadResult load(Module module, Map<String, Tensor> sd, boolean strict) {
        Map<String, Tensor> targets = new LinkedHashMap<>();
        StringTensorDict params = module.named_parameters(true);
        for (long i = 0; i < params.size(); i++) targets.put(params.get(i).key().getString(), params.get(i).value());
        StringTensorDict buffers = module.named_buffers(true);
        for (long i = 0; i < buffers.size(); i++) targets.put(buffers.get(i).key().getString(), buffers.get(i).value());

        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> shapes = new ArrayList<>();
        for (String k : targets.keySet()) if (!sd.containsKey(k)) missing.add(k);
        for (Map.Entry<String, Tensor> e : sd.entrySet()) {
            Tensor target = targets.get(e.getKey());
            if (target == null) {
                unexpected.add(e.getKey());
                continue;
            }
            long[] want = Tensors.shape(target), got = Tensors.shape(e.getValue());
            if (!Arrays.equals(want, got)) {
                shapes.add(e.getKey() + ": copying a param with shape " + Arrays.toString(got)
                        + " from checkpoint, the shape in current model is " + Arrays.toString(want));
            }
        }
        if (!shapes.isEmpty() || (strict && (!missing.isEmpty() || !unexpected.isEmpty()))) {
            String name = module.name().getString();
            throw new WeightsMismatchException(name, strict ? missing : List.of(), strict ? unexpected : List.of(), shapes);
        }
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : sd.entrySet()) {
                Tensor target = targets.get(e.getKey());
                if (target != null) target.copy_(e.getValue());
            }
        }
        return new LoadResult(List.copyOf(missing), List.copyOf(unexpected));
    }
}
