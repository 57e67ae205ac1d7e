package dev.frcnn.train;

import dev.frcnn.dist.DistributedGroup;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;

/**
 * The stop of a whole data-parallel job: a {@link StopRequest} on any rank (its SIGTERM or SIGINT) stops every rank at
 * the same step boundary, so that {@code last.ckpt}, which rank 0 saves, holds a position every rank reached and
 * {@code --resume} continues the job exactly. At each point where {@link SimpleTrainer} polls (the start of each
 * epoch, after each step's hooks, after the last epoch), {@link #poll()} all-reduces (c10d {@code SUM}) a vector of
 * the world size that holds, at each rank's place, the exit code of that rank's request or 0; every rank therefore
 * sees the same vector and stops at the same poll. Rank 0 then saves {@code last.ckpt} and every rank throws
 * {@link TrainingStoppedException} ({@link #stopIfRequested}). A stop during rank 0's evaluation travels with
 * {@link EvalBarrier}'s broadcast instead ({@link #ofRank}).
 *
 * <p>With one process this is the local request and no collective: the single-process loop polls as before. With
 * several, the poll costs one all-reduce of {@code worldSize} doubles per step. The reason a rank reports is its own
 * request's if it has one (Ctrl-C reaches every process of the terminal's group), otherwise the lowest requesting
 * rank's, named by that rank, e.g. {@code SIGTERM to rank 1}; its exit code is that request's. Not thread-safe: the
 * training thread polls.
 */
final class DistributedStop {
    private final StopRequest local;
    private final DistributedGroup group;
    private StopRequest.Reason agreed;

    /**
     * @param local this process's request (its signal handlers')
     * @param group the job's process group; world size 1 = no collective
     */
    DistributedStop(StopRequest local, DistributedGroup group) {
        this.local = local;
        this.group = group;
    }

    /**
     * Whether the job stops here. Collective when the world size is above 1: every rank must call it at the same
     * points, in the same order as its other collectives. Once it returned a reason it returns that reason again
     * without a collective (every rank stops at the same call).
     *
     * @return the reason of the stop, or null to go on
     * @throws dev.frcnn.dist.DistributedException if c10d fails (a peer died)
     */
    StopRequest.Reason poll() {
        if (agreed != null) return agreed;
        StopRequest.Reason own = local.reason();
        if (group.worldSize() == 1) {
            agreed = own;
            return own;
        }
        double[] codes = new double[group.worldSize()];
        if (own != null) codes[group.rank()] = own.exitCode();
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.fromDoubles(codes, codes.length);
            group.allReduceSum(t);
            codes = Tensors.toDoubleArray(t);
        }
        agreed = decide(codes, own);
        return agreed;
    }

    /**
     * The reason this rank reports for a stop that rank {@code rank} requested with exit code {@code code}: this
     * rank's own request if it has one, otherwise {@code rank}'s.
     *
     * @param code the exit code of {@code rank}'s request; 0 = no stop
     * @return the reason, or null if {@code code} is 0
     */
    StopRequest.Reason ofRank(int rank, int code) {
        if (code == 0) return null;
        double[] codes = new double[group.worldSize()];
        codes[rank] = code;
        agreed = decide(codes, local.reason());
        return agreed;
    }

    /**
     * {@link #poll()}; if the job stops, rank 0 saves {@code last.ckpt} where the state is, and every rank throws.
     *
     * @throws TrainingStoppedException if the job stops (on rank 0 after the save)
     * @throws IOException if rank 0's save fails
     */
    void stopIfRequested(Checkpointer checkpointer) throws IOException {
        StopRequest.Reason why = poll();
        if (why == null) return;
        if (group.rank() == 0) checkpointer.stop(why);
        throw checkpointer.stopped(why);
    }

    /** Rank {@code r}'s exit code in {@code codes} decides when this rank made no request. */
    static StopRequest.Reason decide(double[] codes, StopRequest.Reason own) {
        if (own != null) return own;
        for (int r = 0; r < codes.length; r++) {
            int code = (int) Math.round(codes[r]);
            if (code != 0) return new StopRequest.Reason(cause(code) + " to rank " + r, code);
        }
        return null;
    }

    /** {@code SIGINT} for 130, {@code SIGTERM} for 143 ({@link StopRequest.Reason}s of the signal handlers). */
    static String cause(int exitCode) {
        return switch (exitCode) {
            case 130 -> "SIGINT";
            case 143 -> "SIGTERM";
            default -> "a stop request (exit code " + exitCode + ")";
        };
    }
}
