package dev.frcnn.io;

import dev.frcnn.error.UserInputException;

import java.util.List;

/**
 * A state dict that does not fit the model it is loaded into: missing keys, unexpected keys and shape
 * mismatches, all listed in one message (mirrors the {@code RuntimeError} of PyTorch's
 * {@code Module.load_state_dict}, which also reports every problem at once). Also thrown when a pretrained file
 * has keys that the configured backbone's pretrained weights cannot have (e.g. {@link StateDicts#vgg16KeyToReference}). A user error (exit code 2): the weights do not fit the config.
 */
public class WeightsMismatchException extends UserInputException {
    private static final long serialVersionUID = 1L;

    private final List<String> missingKeys;
    private final List<String> unexpectedKeys;
    private final List<String> shapeMismatches;

    /**
     * @param context         what was being loaded (e.g. the model's class name), first in the message
     * @param missingKeys     keys the model has and the state dict lacks
     * @param unexpectedKeys  keys the state dict has and the model lacks
     * @param shapeMismatches one line per key whose shapes differ, e.g. {@code "fc.weight: checkpoint [3, 4], model [4, 4]"}
     */
    public WeightsMismatchException(String context, List<String> missingKeys, List<String> unexpectedKeys,
                                    List<String> shapeMismatches) {
        super(message(context, missingKeys, unexpectedKeys, shapeMismatches));
        this.missingKeys = List.copyOf(missingKeys);
        this.unexpectedKeys = List.copyOf(unexpectedKeys);
        this.shapeMismatches = List.copyOf(shapeMismatches);
    }

    /** Keys the model has and the state dict lacks (in the model's order). */
    public List<String> missingKeys() {
        return missingKeys;
    }

    /** Keys the state dict has and the model lacks (in the state dict's order). */
    public List<String> unexpectedKeys() {
        return unexpectedKeys;
    }

    /** One line per key whose shapes differ. */
    public List<String> shapeMismatches() {
        return shapeMismatches;
    }

    private static String message(String context, List<String> missing, List<String> unexpected, List<String> shapes) {
        StringBuilder sb = new StringBuilder("Error(s) in loading state_dict for ").append(context).append(':');
        if (!missing.isEmpty()) sb.append("\n  Missing key(s): ").append(String.join(", ", missing));
        if (!unexpected.isEmpty()) sb.append("\n  Unexpected key(s): ").append(String.join(", ", unexpected));
        for (String s : shapes) sb.append("\n  size mismatch for ").append(s);
        return sb.toString();
    }
}
