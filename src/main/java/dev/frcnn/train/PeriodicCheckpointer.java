package dev.frcnn.train;

import java.io.IOException;

/**
 * Saves {@code last.ckpt} every {@code checkpoint_every} global steps within an epoch, and at the end of each epoch
 * (after its evaluation and the lr decay) with the position of the next epoch's start (detectron2's
 * {@code PeriodicCheckpointer}, plus the end of the epoch). A step that ends an epoch is saved only by the latter.
 */
final class PeriodicCheckpointer extends HookBase {
    private final Checkpointer checkpointer;
    private final int every;

    /**
     * @param every {@code checkpoint_every}: global steps between saves, {@code >= 1}
     * @throws IllegalArgumentException if {@code every < 1}
     */
    PeriodicCheckpointer(Checkpointer checkpointer, int every) {
        if (every < 1) throw new IllegalArgumentException("checkpoint_every must be >= 1, got " + every);
        this.checkpointer = checkpointer;
        this.every = every;
    }

    @Override
    void afterStep(TrainState state) throws IOException {
        if (state.globalStep() % every == 0 && state.iteration() < state.epochLength()) {
            checkpointer.saveLast(state.epoch(), state.iteration());
        }
    }

    @Override
    void afterEpoch(TrainState state) throws IOException {
        checkpointer.saveLast(state.epoch() + 1, 0);
    }
}
