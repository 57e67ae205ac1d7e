package dev.frcnn.train;

import java.nio.file.Path;
import java.util.List;

/**
 * Training stopped because it diverged: a loss (or, when a checkpoint was due, a parameter) became NaN or
 * infinite. {@code last.ckpt} was not overwritten after that point: it holds the last state whose losses were
 * finite, so {@code --resume} with a lower {@code lr} (or with {@code warmup_iters}, {@code clip_grad_norm}) can
 * continue from there. The message is one line naming the step, the epoch and the non-finite losses, as
 * detectron2's {@code FloatingPointError("Loss became infinite or NaN at iteration=...")}.
 */
public class TrainingDivergedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long step;
    private final int epoch;
    private final List<String> nonFinite;

    /**
     * @param step the 1-based global step that produced the non-finite value
     * @param epoch the 1-based epoch of that step
     * @param nonFinite names of the non-finite losses (or {@code "parameters"})
     * @param detail the values, e.g. {@code "roi_cls_loss=NaN"}
     * @param lastCheckpoint the checkpoint a resume would continue from (may be {@code null})
     */
    public TrainingDivergedException(long step, int epoch, List<String> nonFinite, String detail, Path lastCheckpoint) {
        super("training diverged: non-finite " + String.join(", ", nonFinite) + " at step " + step + " (epoch "
                + epoch + "): " + detail + "; " + (lastCheckpoint == null ? "no checkpoint was written"
                : lastCheckpoint + " keeps the last finite state; resume with a lower lr (--resume --set lr=...), "
                + "warmup_iters or clip_grad_norm"));
        this.step = step;
        this.epoch = epoch;
        this.nonFinite = List.copyOf(nonFinite);
    }

    /** The 1-based global step that diverged. */
    public long step() { return step; }

    /** The 1-based epoch of {@link #step()}. */
    public int epoch() { return epoch; }

    /** The non-finite losses (names as in {@code losses.csv}). */
    public List<String> nonFinite() { return nonFinite; }
}
