package dev.frcnn.train;

import dev.frcnn.dist.DistributedGroup;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;

/**
 * Data parallelism's end of an epoch: rank 0 evaluates (it holds the {@link EvalHook}, which runs inside this hook)
 * while the other ranks wait here at a c10d barrier; then rank 0's best metric, its epoch and whether a stop
 * interrupted the evaluation are broadcast, so that every rank's {@link LrSchedule}, the next hook, decays the lr (and
 * reloads the best model, {@link #reloadBest}) at the same epoch, and a stop during the evaluation (rank 0 saved
 * {@code last.ckpt} at the end of the epoch's steps) stops every rank there ({@link DistributedStop#ofRank}). The
 * barrier waits up to {@link #EVAL_WAIT} or the group's timeout, whichever is longer; a rank 0 that dies ends it at
 * once (Gloo sees the closed connection). Before the barrier, rank 0 logs the mean time of the epoch's gradient
 * all-reduces.
 */
final class EvalBarrier extends HookBase {
    /** The longest the other ranks wait for rank 0's evaluation of an epoch: 12 hours. */
    static final Duration EVAL_WAIT = Duration.ofHours(12);

    private final DistributedGroup group;
    private final GradientAllReduce reduce;
    private final PrintStream log;
    private final int epochs;
    private final HookBase evaluation;
    private final DistributedStop stop;
    private final Checkpointer checkpointer;

    /**
     * @param group the job's process group
     * @param reduce the gradients' all-reduce, whose mean time per step of the epoch is logged
     * @param log where rank 0 logs it (the other ranks pass a stream that discards)
     * @param epochs the run's epochs, for the log line
     * @param evaluation rank 0's {@link EvalHook}, called at each point of this hook before its own work; null on the
     *     other ranks
     * @param stop the job's stop, told of a stop during rank 0's evaluation
     * @param checkpointer gives the other ranks' {@link TrainingStoppedException} for that stop
     */
    EvalBarrier(DistributedGroup group, GradientAllReduce reduce, PrintStream log, int epochs, HookBase evaluation,
                DistributedStop stop, Checkpointer checkpointer) {
        this.group = group;
        this.epochs = epochs;
        this.reduce = reduce;
        this.log = log;
        this.evaluation = evaluation;
        this.stop = stop;
        this.checkpointer = checkpointer;
    }

    @Override
    void beforeTrain(TrainState state) throws IOException {
        if (evaluation != null) evaluation.beforeTrain(state);
    }

    @Override
    void afterTrain(TrainState state) throws IOException {
        if (evaluation != null) evaluation.afterTrain(state);
    }

    @Override
    void beforeEpoch(TrainState state) throws IOException {
        if (evaluation != null) evaluation.beforeEpoch(state);
    }

    @Override
    void beforeStep(TrainState state) throws IOException {
        if (evaluation != null) evaluation.beforeStep(state);
    }

    @Override
    void afterStep(TrainState state) throws IOException {
        if (evaluation != null) evaluation.afterStep(state);
    }

    @Override
    void afterDivergedStep(TrainState state) throws IOException {
        if (evaluation != null) evaluation.afterDivergedStep(state);
    }

    @Override
    void afterEpoch(TrainState state) throws IOException {
        TrainingStoppedException stoppedInEvaluation = null;
        if (evaluation != null) {
            try {
                evaluation.afterEpoch(state);
            } catch (TrainingStoppedException e) {
                stoppedInEvaluation = e; // last.ckpt is saved; the others learn of it below
            }
        }
        if (reduce.steps() > 0) {
            log.printf("epoch %d/%d: gradient all-reduce %.0f ms per step (mean of %d, waiting for the slowest rank "
                    + "included)%n", state.epoch() + 1, epochs, reduce.meanMillis(), reduce.steps());
        }
        reduce.resetTimes();
        group.barrier(EVAL_WAIT.compareTo(group.timeout()) > 0 ? EVAL_WAIT : group.timeout());
        try (PointerScope s = new PointerScope()) {
            int code = stoppedInEvaluation == null ? 0 : stoppedInEvaluation.reason().exitCode();
            Tensor best = Tensors.fromDoubles(new double[]{state.bestMap(), state.bestEpoch(), code}, 3);
            group.broadcast(best, 0);
            double[] v = Tensors.toDoubleArray(best);
            state.setBest(v[0], (int) v[1]);
            code = (int) v[2];
            if (stoppedInEvaluation != null) throw stoppedInEvaluation;
            if (code != 0) throw checkpointer.stopped(stop.ofRank(0, code));
        }
    }

    /**
     * The lr decay's reload of the best model on every rank: rank 0 reads {@code best.ckpt} (which only it writes),
     * then broadcasts the weights to the others.
     *
     * @param rank0Reload rank 0's reload (of {@code best.ckpt})
     * @param reduce the job's collectives on the model
     */
    static LrSchedule.BestModel reloadBest(DistributedGroup group, LrSchedule.BestModel rank0Reload,
                                           GradientAllReduce reduce) {
        return () -> {
            if (group.rank() == 0) rank0Reload.reload();
            reduce.broadcastParameters();
        };
    }
}
