package dev.frcnn.train;

import dev.frcnn.assembly.Checkpoint;

/**
 * Where a run is, what the hooks read (detectron2's {@code EventStorage} and trainer counters in one): the epoch and
 * the step within it, the global step, the losses of the last step, the metric of the last evaluation and the best
 * one so far. The position and the best metric are what {@code last.ckpt} saves and a resume restores.
 *
 * <p>Written by {@link SimpleTrainer} (position, losses) and by {@link EvalHook} (metrics); hooks read it. Not
 * thread-safe: the training thread owns it.
 */
final class TrainState {
    private int epoch;
    private int iteration;
    private int epochLength;
    private long globalStep;
    private double[] lastLosses;
    private double bestMap = -1;
    private int bestEpoch = -1;
    private double lastMap = Double.NaN;
    private long epochStartNanos;

    /** The 0-based epoch in progress ({@code epochs} once training is complete). */
    int epoch() { return epoch; }

    /**
     * Steps of {@link #epoch()} done: during a step (between {@link HookBase#beforeStep} and
     * {@link HookBase#afterStep}) the 0-based index of that step until the step completes, then one more.
     */
    int iteration() { return iteration; }

    /** Steps in {@link #epoch()} (0 once training is complete). */
    int epochLength() { return epochLength; }

    /** Steps done in the whole run (resumed runs included): during a step, its 0-based index. */
    long globalStep() { return globalStep; }

    /**
     * The five losses of the last step (in the order of {@link FasterRCNNTrainer.Losses#NAMES}), or null before the
     * first step of this process; after a diverged step, its non-finite losses.
     */
    double[] lastLosses() { return lastLosses; }

    /** The best metric (mAP) so far; -1: none yet. */
    double bestMap() { return bestMap; }

    /** The 0-based epoch of {@link #bestMap()}; -1: none yet. */
    int bestEpoch() { return bestEpoch; }

    /** The metric of the last evaluation of this process; NaN: none yet. */
    double lastMap() { return lastMap; }

    /** {@link System#nanoTime()} when {@link #epoch()} started (before its {@link HookBase#beforeEpoch}). */
    long epochStartNanos() { return epochStartNanos; }

    /** Sets the position, the global step and the best metric from a checkpoint's metadata (a resume). */
    void restore(Checkpoint.Meta m) {
        epoch = m.epoch();
        iteration = m.iteration();
        globalStep = m.globalStep();
        bestMap = m.bestMap();
        bestEpoch = m.bestEpoch();
    }

    /**
     * As {@link #restore(Checkpoint.Meta)} for a checkpoint whose {@code iteration} and {@code global_step} count
     * samples over all ranks ({@link Checkpointer}): they become steps of {@code shard}'s world size (with world size
     * 1, the same numbers).
     */
    void restore(Checkpoint.Meta m, DistributedSampler shard) {
        restore(m);
        iteration = shard.stepsDone(m.iteration());
        globalStep = m.globalStep() / shard.worldSize();
    }

    /** The best metric and its epoch as another rank found them (data parallelism: rank 0 evaluates). */
    void setBest(double map, int epoch) {
        bestMap = map;
        bestEpoch = epoch;
    }

    /** An epoch of {@code length} steps starts (at {@link #iteration()}, which a resume may have set). */
    void startEpoch(int length) {
        this.epochLength = length;
    }

    /** The epoch's time starts now ({@link System#nanoTime()}), after its stop poll. */
    void startEpochClock(long nanos) {
        this.epochStartNanos = nanos;
    }

    /** Step {@code it} of the epoch completed with {@code losses}. */
    void stepDone(int it, double[] losses) {
        globalStep++;
        iteration = it + 1;
        lastLosses = losses.clone();
    }

    /** The step in progress produced non-finite {@code losses}; the position stays before it. */
    void stepDiverged(double[] losses) {
        lastLosses = losses.clone();
    }

    /** The epoch ended: the next one starts at its first step. */
    void endEpoch() {
        epoch++;
        iteration = 0;
    }

    /** Training is complete: no epoch in progress. */
    void endTraining() {
        epochLength = 0;
    }

    /** The evaluation of {@link #epoch()} gave {@code map}. */
    void evaluated(double map) {
        lastMap = map;
    }

    /** {@link #epoch()}'s evaluation is the best so far. */
    void best(double map) {
        bestMap = map;
        bestEpoch = epoch;
    }
}
