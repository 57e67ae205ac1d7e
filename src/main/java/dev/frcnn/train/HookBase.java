package dev.frcnn.train;

import java.io.IOException;

/**
 * Something that runs at fixed points of {@link SimpleTrainer}'s loop, detectron2's {@code HookBase} by epochs (the
 * reference trains by epochs): checkpoints, evaluation, the lr schedule, the loss log, the progress bar. Every method
 * does nothing unless overridden. The trainer calls the hooks of a point in the order of its list ({@link TrainLoop}
 * builds it), so an earlier hook's effects are visible to a later one:
 * <pre>
 * beforeTrain
 * for each epoch:                 (state.iteration() may start past 0 on resume)
 *     beforeEpoch
 *     for each remaining step:    (none when the epoch's steps were all done before a resume)
 *         beforeStep              (state: the step's epoch, iteration and global step, 0-based)
 *         forward, divergence check, backward, clip, optimizer step
 *         afterStep               (state: iteration and global step count the step; lastLosses its losses)
 *       or, when a loss is not finite:
 *         afterDivergedStep       (state: still before the step; lastLosses the non-finite losses), then the trainer
 *                                 throws {@link TrainingDivergedException}
 *     afterEpoch                  (state.iteration() == state.epochLength())
 * afterTrain                      (always, also when an exception ends training)
 * </pre>
 * A hook may throw: the exception ends training (after {@code afterTrain}).
 */
abstract class HookBase {
    /** Before the first epoch (of this process). */
    void beforeTrain(TrainState state) throws IOException {}

    /** At the end of training, normal or not ({@code finally}): release what the hook holds. */
    void afterTrain(TrainState state) throws IOException {}

    /** At the start of {@code state.epoch()}, after the stop poll. */
    void beforeEpoch(TrainState state) throws IOException {}

    /** After the last step of {@code state.epoch()} (or at once, if a resume found its steps all done). */
    void afterEpoch(TrainState state) throws IOException {}

    /** Before the forward pass of a step; the sample is loaded and on the device. */
    void beforeStep(TrainState state) throws IOException {}

    /** After the optimizer step of a step. */
    void afterStep(TrainState state) throws IOException {}

    /** After a step whose losses were not finite (neither backward nor the optimizer step ran). */
    void afterDivergedStep(TrainState state) throws IOException {}
}
