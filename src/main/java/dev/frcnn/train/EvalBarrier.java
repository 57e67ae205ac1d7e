package dev.frcnn.train;

import dev.frcnn.dist.DistributedGroup;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.PrintStream;
import java.time.Duration;

/**
 * Data parallelism's end of an epoch: rank 0 evaluates ({@link EvalHook} runs on rank 0 only) while the other ranks
 * wait here at a c10d barrier; then rank 0's best metric and its epoch are broadcast, so that every rank's
 * {@link LrSchedule}, the next hook, decays the lr (and reloads the best model, {@link #reloadBest}) at the same
 * epoch. The barrier waits up to {@link #EVAL_WAIT} or the group's timeout, whichever is longer; a rank 0 that dies
 * ends it at once (Gloo sees the closed connection). Before the barrier, rank 0 logs the mean time of the epoch's
 * gradient all-reduces.
 */
final class EvalBarrier extends HookBase {
    /** The longest the other ranks wait for rank 0's evaluation of an epoch: 12 hours. */
    static final Duration EVAL_WAIT = Duration.ofHours(12);

    private final DistributedGroup group;
    private final GradientAllReduce reduce;
    private final PrintStream log;
    private final int epochs;

    /**
     * @param group the job's process group
     * @param reduce the gradients' all-reduce, whose mean time per step of the epoch is logged
     * @param log where rank 0 logs it (the other ranks pass a stream that discards)
     * @param epochs the run's epochs, for the log line
     */
    EvalBarrier(DistributedGroup group, GradientAllReduce reduce, PrintStream log, int epochs) {
        this.group = group;
        this.epochs = epochs;
        this.reduce = reduce;
        this.log = log;
    }

    @Override
    void afterEpoch(TrainState state) {
        if (reduce.steps() > 0) {
            log.printf("epoch %d/%d: gradient all-reduce %.0f ms per step (mean of %d, waiting for the slowest rank "
                    + "included)%n", state.epoch() + 1, epochs, reduce.meanMillis(), reduce.steps());
        }
        reduce.resetTimes();
        group.barrier(EVAL_WAIT.compareTo(group.timeout()) > 0 ? EVAL_WAIT : group.timeout());
        try (PointerScope s = new PointerScope()) {
            Tensor best = Tensors.fromDoubles(new double[]{state.bestMap(), state.bestEpoch()}, 2);
            group.broadcast(best, 0);
            double[] v = Tensors.toDoubleArray(best);
            state.setBest(v[0], (int) v[1]);
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
