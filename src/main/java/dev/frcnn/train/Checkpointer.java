package dev.frcnn.train;

import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.config.Config;
import dev.frcnn.data.CocoCategories;
import dev.frcnn.io.WeightLoader;
import dev.frcnn.io.WeightsFormatException;
import org.bytedeco.pytorch.Module;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.io.Flushable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes and reads a run's checkpoints ({@link RunDirectory#LAST}, {@link RunDirectory#BEST}; {@link Checkpoint}
 * writes atomically): the model's parameters and buffers, and for {@code last.ckpt} the optimizer state and group
 * lrs, with the position and best metric of the {@link TrainState} and the base lr of the {@link LrSchedule}.
 * Before a save of {@code last.ckpt} it flushes the loss log, so that a run killed between the two keeps every row
 * up to the checkpoint. A parameter that is NaN or infinite is never saved: the save throws
 * {@link TrainingDivergedException} and leaves the previous file.
 */
final class Checkpointer {
    private final Path last;
    private final Path best;
    private final Config cfg;
    private final CocoCategories categories;
    private final Module model;
    private final TrainOptimizer optimizer;
    private final LrSchedule schedule;
    private final TrainState state;
    private final Flushable beforeSaveLast;
    private DistributedSampler positions;

    /**
     * @param dir the run directory
     * @param cfg the run's config (saved in each checkpoint)
     * @param categories the classes' names and COCO category ids, saved in each checkpoint
     * @param beforeSaveLast flushed before each save of {@code last.ckpt} (the loss log)
     */
    Checkpointer(Path dir, Config cfg, CocoCategories categories, Module model, TrainOptimizer optimizer,
                 LrSchedule schedule, TrainState state, Flushable beforeSaveLast) {
        this.last = dir.resolve(RunDirectory.LAST);
        this.best = dir.resolve(RunDirectory.BEST);
        this.cfg = cfg;
        this.categories = categories;
        this.model = model;
        this.optimizer = optimizer;
        this.schedule = schedule;
        this.state = state;
        this.beforeSaveLast = beforeSaveLast;
    }

    /**
     * Saves the position in samples over all ranks instead of steps ({@link DistributedSampler#samplesDone}: the
     * iteration times the world size, at most the epoch's images; the global step times the world size), so that a
     * resume with another world size continues where the run was; with world size 1 the numbers are the same.
     */
    void countInSamples(DistributedSampler shard) {
        this.positions = shard;
    }

    /** {@code last.ckpt}: the running state. */
    Path last() {
        return last;
    }

    /** {@code best.ckpt}: the weights of the best epoch so far. */
    Path best() {
        return best;
    }

    /**
     * Saves {@code last.ckpt}: model, optimizer, group lrs, and a resume position of ({@code epoch},
     * {@code iteration}) with the global step and best metric of the state.
     *
     * @param epoch the 0-based epoch a resume continues from
     * @param iteration the steps of that epoch already done
     * @throws TrainingDivergedException if a parameter is not finite (the file is left as it was)
     * @throws IOException if the loss log cannot be flushed or the file written
     */
    void saveLast(int epoch, int iteration) throws IOException {
        beforeSaveLast.flush();
        save(last, epoch, iteration, true);
    }

    /**
     * Saves {@code best.ckpt}: the model (no optimizer state) with the state's position and best metric.
     *
     * @throws TrainingDivergedException if a parameter is not finite (the file is left as it was)
     * @throws IOException if the file cannot be written
     */
    void saveBest() throws IOException {
        save(best, state.epoch(), state.iteration(), false);
    }

    /**
     * At a step boundary: if a stop was requested, saves {@code last.ckpt} where the state is (whose best mAP and
     * epoch are those of {@code best.ckpt}: nothing polls between an evaluation and the save of {@code best.ckpt})
     * and throws {@link TrainingStoppedException}; otherwise returns.
     *
     * @throws IOException if the save fails
     */
    void stopIfRequested(StopRequest stop) throws IOException {
        StopRequest.Reason why = stop.reason();
        if (why != null) stop(why);
    }

    /**
     * Saves {@code last.ckpt} where the state is and throws {@link #stopped}{@code (why)}.
     *
     * @throws TrainingStoppedException always, after the save
     * @throws IOException if the save fails
     */
    void stop(StopRequest.Reason why) throws IOException {
        saveLast(state.epoch(), state.iteration());
        throw stopped(why);
    }

    /**
     * The exception of a stop at the state's position, naming {@code last.ckpt}; saves nothing (the other ranks of a
     * data-parallel job, whose rank 0 saves).
     */
    TrainingStoppedException stopped(StopRequest.Reason why) {
        return new TrainingStoppedException(why, state.epoch(), state.iteration(), state.epochLength(), cfg.epoch(),
                last);
    }

    /**
     * Loads the weights of a checkpoint into {@code model} (the reference's reload of the best model at the lr
     * decay).
     *
     * @throws IOException if it cannot be read
     */
    static void loadWeights(Path file, Module model) throws IOException {
        Checkpoint b = Checkpoint.load(file);
        WeightLoader.load(model, b.tensors(), true);
    }

    /**
     * A resume's first half: loads the weights and the optimizer state of {@code file} into {@code model} and
     * {@code optimizer}. The caller restores the position ({@link TrainState#restore}) and the lr
     * ({@link LrSchedule#restore}) from the returned metadata.
     *
     * @return the checkpoint's metadata
     * @throws WeightsFormatException if the file has no optimizer state or it does not fit the optimizer
     * @throws IOException if it cannot be read
     */
    static Checkpoint.Meta restore(Path file, Module model, TrainOptimizer optimizer) throws IOException {
        Checkpoint c = Checkpoint.load(file);
        WeightLoader.load(model, c.tensors(), true);
        byte[] optim = c.optimizerState();
        if (optim == null) throw new WeightsFormatException(file, "no optimizer state to resume from");
        optimizer.loadState(optim, file);
        return c.meta();
    }

    private void save(Path file, int epoch, int iteration, boolean withState) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            StringTensorDict p = model.named_parameters(true), b = model.named_buffers(true);
            for (long i = 0; i < p.size(); i++) {
                Tensor t = p.get(i).value();
                // Never overwrite a checkpoint with a diverged state (an update can make parameters non-finite
                // although the loss that produced it was finite).
                if (!org.bytedeco.pytorch.global.torch.isfinite(t.detach()).all().item_bool()) {
                    throw new TrainingDivergedException(state.globalStep(), Math.min(epoch + 1, cfg.epoch()),
                            List.of("parameters"), p.get(i).key().getString() + " has NaN or infinite values",
                            Files.isRegularFile(file) ? file : null);
                }
                tensors.put(p.get(i).key().getString(), t);
            }
            for (long i = 0; i < b.size(); i++) tensors.put(b.get(i).key().getString(), b.get(i).value());
            int it = positions == null ? iteration : positions.samplesDone(iteration);
            long step = positions == null ? state.globalStep() : state.globalStep() * positions.worldSize();
            Checkpoint.Meta meta = new Checkpoint.Meta(cfg, categories.names(), epoch, it, step,
                    state.bestMap(), state.bestEpoch(), schedule.baseLr(), withState ? schedule.groupLrs() : null,
                    categories);
            new Checkpoint(tensors, meta, withState ? optimizer.saveState() : null).save(file);
        }
    }
}
