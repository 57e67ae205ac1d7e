package dev.frcnn.train;

import java.util.ArrayList;
import java.util.List;

/**
 * A training step's loss was NaN or infinite. Thrown by {@link FasterRCNNTrainer#trainStep} before backward and
 * before the optimizer step, so the model and optimizer still hold the state before that step.
 */
public class NonFiniteLossException extends ArithmeticException {
    private static final long serialVersionUID = 1L;

    private final double[] values;

    private final List<String> names;

    /** @param values the five losses in the order of {@link FasterRCNNTrainer.Losses#NAMES} */
    public NonFiniteLossException(double[] values) {
        this(FasterRCNNTrainer.Losses.NAMES, values);
    }

    /**
     * A trainer with other losses ({@link TorchvisionTrainer}: torchvision's four and their total).
     *
     * @param names the losses' names, the total last
     * @param values the losses in that order
     * @throws IllegalArgumentException if the lengths differ
     */
    public NonFiniteLossException(List<String> names, double[] values) {
        super("non-finite loss: " + describe(names, values));
        this.names = List.copyOf(names);
        this.values = values.clone();
    }

    /** The losses, in the order of {@link #names()} (the reference's: rpn_loc, rpn_cls, roi_loc, roi_cls, total). */
    public double[] values() {
        return values.clone();
    }

    /** The losses' names, the total last. */
    public List<String> names() {
        return names;
    }

    /** Names of the non-finite ones among the losses (the total is non-finite iff one of them is). */
    public List<String> nonFiniteLosses() {
        int last = values.length - 1;
        List<String> out = new ArrayList<>();
        for (int k = 0; k < last; k++) {
            if (!Double.isFinite(values[k])) out.add(names.get(k));
        }
        if (out.isEmpty() && !Double.isFinite(values[last])) out.add(names.get(last));
        return out;
    }

    /**
     * The non-finite losses as {@code name=value}, e.g. {@code "roi_loc_loss=NaN, roi_cls_loss=Infinity"}; the total
     * (last) only when no other is non-finite.
     */
    static String describe(List<String> names, double[] values) {
        if (names.size() != values.length) {
            throw new IllegalArgumentException(names.size() + " loss names for " + values.length + " values");
        }
        int last = values.length - 1;
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < values.length; k++) {
            if (Double.isFinite(values[k])) continue;
            if (k == last && sb.length() > 0) break;
            if (sb.length() > 0) sb.append(", ");
            sb.append(names.get(k)).append('=').append(values[k]);
        }
        return sb.toString();
    }
}
