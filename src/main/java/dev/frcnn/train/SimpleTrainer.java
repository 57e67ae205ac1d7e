package dev.frcnn.train;

import dev.frcnn.data.Transform;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The core training loop, detectron2's {@code SimpleTrainer} by epochs: for each epoch of the run, from the position
 * in the {@link TrainState} (a resume may start mid-epoch), each step takes the next {@code batch_size} samples of the
 * {@link PrefetchLoader} (the epoch's last step takes what is left: an epoch of n images has
 * {@code ceil(n / batch_size)} steps, {@link #stepsPerEpoch}), moves the samples to the device and runs
 * {@link StepTrainer#trainBatch} of the model's family (for the reference's, {@link FasterRCNNTrainer}: forward, re-seeding
 * the sampler before each image's draws with the image's sample index, the divergence check,
 * backward through {@link dev.frcnn.tensor.ConvolutionBackward}, the after-backward point, gradient clipping, the
 * optimizer step). Positions ({@link TrainState#iteration()}, {@link TrainState#globalStep()}) count steps, not
 * images. Everything else (the lr
 * schedule, checkpoints, evaluation and the best model, the loss log, the progress bar) is a {@link HookBase} called
 * at the points listed there, in the order of the list.
 *
 * <p>Two things stop the loop: a step whose losses are not finite (the hooks' {@link HookBase#afterDivergedStep}, then
 * {@link TrainingDivergedException}, naming {@code last.ckpt} if it exists), and a {@link StopRequest}, polled at the
 * start of each epoch, after each step's hooks and after the last epoch ({@link DistributedStop#stopIfRequested}:
 * {@code last.ckpt} saved where the run is, then {@link TrainingStoppedException}; under data parallelism a request
 * on any rank stops every rank at the same poll, and rank 0 saves).
 */
final class SimpleTrainer {
    private final org.bytedeco.pytorch.Module model;
    private final StepTrainer trainer;
    private final ReseedableSampler sampler;
    private final PrefetchLoader loader;
    private final TrainState state;
    private final Checkpointer checkpointer;
    private final DistributedStop stop;
    private final int epochs;
    private final int batchSize;
    private final long seed;
    private final Device device;
    private final List<HookBase> hooks;

    /**
     * @param trainer the losses and the optimizer step of the model being trained (its family's)
     * @param sampler the trainer's sampler, re-seeded before each image's draws ({@link Seeds#stepSeed} of
     *     {@link PrefetchLoader#sampleIndex})
     * @param loader the training samples
     * @param state the position to start from (a resume's), updated as the loop runs
     * @param checkpointer saves {@code last.ckpt} on a stop (rank 0's; on the other ranks one that is never saved)
     * @param stop polled at step boundaries, every rank at the same ones
     * @param epochs epochs of the run ({@code epoch})
     * @param batchSize images per step ({@code batch_size}, {@code >= 1})
     * @param seed the run's seed
     * @param device where the samples go
     * @param hooks called in this order at each point
     */
    SimpleTrainer(StepTrainer trainer, ReseedableSampler sampler, PrefetchLoader loader, TrainState state,
                  Checkpointer checkpointer, DistributedStop stop, int epochs, int batchSize, long seed, Device device,
                  List<HookBase> hooks) {
        if (batchSize < 1) throw new IllegalArgumentException("batch_size must be >= 1, got " + batchSize);
        this.model = trainer.model().module();
        this.trainer = trainer;
        this.sampler = sampler;
        this.loader = loader;
        this.state = state;
        this.checkpointer = checkpointer;
        this.stop = stop;
        this.epochs = epochs;
        this.batchSize = batchSize;
        this.seed = seed;
        this.device = device;
        this.hooks = List.copyOf(hooks);
    }

    /**
     * Trains from the state's position to the end of the last epoch.
     *
     * @throws TrainingDivergedException when a loss (or a parameter due to be saved) is not finite
     * @throws TrainingStoppedException when a stop was requested (after saving {@code last.ckpt})
     * @throws IOException if a file of the run cannot be written or read
     */
    void train() throws IOException {
        try {
            for (HookBase h : hooks) h.beforeTrain(state);
            for (; state.epoch() < epochs; state.endEpoch()) {
                int[] order = loader.order(state.epoch());
                int steps = stepsPerEpoch(order.length, batchSize);
                state.startEpoch(steps);
                stop.stopIfRequested(checkpointer);
                state.startEpochClock(System.nanoTime());
                for (HookBase h : hooks) h.beforeEpoch(state);
                if (state.iteration() < steps) runSteps(order, steps);
                for (HookBase h : hooks) h.afterEpoch(state);
            }
            state.endTraining();
            stop.stopIfRequested(checkpointer);
        } finally {
            for (HookBase h : hooks) h.afterTrain(state);
        }
    }

    /**
     * Steps of an epoch of {@code images} images at {@code batchSize} images per step: {@code ceil(images / batchSize)}
     * (the last step takes the remainder, a smaller batch).
     */
    static int stepsPerEpoch(int images, int batchSize) {
        return (images + batchSize - 1) / batchSize;
    }

    private void runSteps(int[] order, int steps) throws IOException {
        model.train(true);
        int epoch = state.epoch();
        try (PrefetchLoader.Epoch samples = loader.epoch(epoch, order, state.iteration() * batchSize)) {
            for (int it = state.iteration(); it < steps; it++) {
                double[] v;
                int from = it * batchSize, to = Math.min(from + batchSize, order.length);
                List<Transform.Sample> batch = new ArrayList<>(to - from);
                try {
                    for (int p = from; p < to; p++) batch.add(samples.next(p));
                    try (PointerScope scope = new PointerScope()) {
                        long step = state.globalStep();
                        List<Tensor> imgs = new ArrayList<>(batch.size()), bboxes = new ArrayList<>(batch.size()),
                                labels = new ArrayList<>(batch.size());
                        double[] scales = new double[batch.size()];
                        for (int i = 0; i < batch.size(); i++) {
                            Transform.Sample s = batch.get(i);
                            imgs.add(s.img().to(device, s.img().scalar_type()));
                            bboxes.add(s.bbox().to(device, s.bbox().scalar_type()));
                            labels.add(s.label().to(device, s.label().scalar_type()));
                            scales[i] = s.scale();
                        }
                        for (HookBase h : hooks) h.beforeStep(state);
                        v = trainer.trainBatch(imgs, bboxes, labels, scales,
                                i -> sampler.reseed(Seeds.stepSeed(seed, loader.sampleIndex(step, batchSize, i))));
                    }
                } catch (NonFiniteLossException e) {
                    state.stepDiverged(e.values());
                    for (HookBase h : hooks) h.afterDivergedStep(state);
                    throw new TrainingDivergedException(state.globalStep() + 1, epoch + 1, e.nonFiniteLosses(),
                            NonFiniteLossException.describe(e.names(), e.values()),
                            Files.isRegularFile(checkpointer.last()) ? checkpointer.last() : null);
                } finally {
                    for (Transform.Sample s : batch) s.close();
                }
                state.stepDone(it, v);
                for (HookBase h : hooks) h.afterStep(state);
                stop.stopIfRequested(checkpointer);
            }
        }
    }
}
