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

    /** @param values the five losses in the order of {@link FasterRCNNTrainer.Losses#NAMES} */
    public NonFiniteLossException(double[] values) {
        super("non-finite loss: " + describe(values));
        this.values = values.clone();
    }

    /** The five losses (rpn_loc, rpn_cls, roi_loc, roi_cls, total). */
    public double[] values() {
        return values.clone();
    }

    /** Names of the non-finite ones among the four losses (the total is non-finite iff one of them is). */
    public List<String> nonFiniteLosses() {
        List<String> out = new ArrayList<>();
        for (int k = 0; k < 4; k++) {
            if (!Double.isFinite(values[k])) out.add(FasterRCNNTrainer.Losses.NAMES.get(k));
        }
        if (out.isEmpty() && !Double.isFinite(values[4])) out.add(FasterRCNNTrainer.Losses.NAMES.get(4));
        return out;
    }

    /** e.g. {@code "roi_loc_loss=NaN, roi_cls_loss=Infinity"}. */
    static String describe(double[] values) {
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < values.length; k++) {
            if (Double.isFinite(values[k])) continue;
            if (k == 4 && sb.length() > 0) break;
            if (sb.length() > 0) sb.append(", ");
            sb.append(FasterRCNNTrainer.Losses.NAMES.get(k)).append('=').append(values[k]);
        }
        return sb.toString();
    }
}
