package dev.frcnn.train;

import java.nio.file.Path;

/**
 * Training stopped on a {@link StopRequest} (e.g. SIGTERM) after saving its state: {@code last.ckpt} holds the
 * model, the optimizer state, the epoch and the iteration within it that a resume continues from, and the best mAP
 * and epoch of {@code best.ckpt}. The message is one line, e.g.
 * {@code stopped by SIGTERM at epoch 2 iteration 5 of 16; saved runs/x/last.ckpt}.
 */
public class TrainingStoppedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient StopRequest.Reason reason;
    private final int epoch;
    private final int iteration;
    private final transient Path checkpoint;

    /**
     * @param reason why it stopped
     * @param epoch 0-based epoch a resume continues from ({@code epochs} when training was complete)
     * @param iteration steps of that epoch already done
     * @param iterations steps in that epoch
     * @param epochs epochs of the run
     * @param checkpoint the saved {@code last.ckpt}
     */
    public TrainingStoppedException(StopRequest.Reason reason, int epoch, int iteration, int iterations, int epochs,
                                    Path checkpoint) {
        super("stopped by " + reason.cause() + (epoch >= epochs ? " after the last epoch (training is complete)"
                : " at epoch " + (epoch + 1) + " iteration " + iteration + " of " + iterations
                + (iteration >= iterations ? " (its evaluation runs on resume)" : ""))
                + "; saved " + checkpoint);
        this.reason = reason;
        this.epoch = epoch;
        this.iteration = iteration;
        this.checkpoint = checkpoint;
    }

    /** @return why training stopped; {@link StopRequest.Reason#exitCode()} is the command's exit code */
    public StopRequest.Reason reason() { return reason; }

    /** @return the 0-based epoch a resume continues from */
    public int epoch() { return epoch; }

    /** @return the steps of {@link #epoch()} already done (a resume starts with the next one) */
    public int iteration() { return iteration; }

    /** @return the saved checkpoint ({@code last.ckpt}) */
    public Path checkpoint() { return checkpoint; }
}
