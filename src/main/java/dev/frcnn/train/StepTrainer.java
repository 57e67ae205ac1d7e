package dev.frcnn.train;

import dev.frcnn.model.DetectionModel;
import org.bytedeco.pytorch.Tensor;

import java.util.List;
import java.util.function.IntConsumer;

/**
 * One optimisation step of a model family, as the training loop ({@link SimpleTrainer}, {@link TrainLoop}) drives
 * it: the reference family's {@link FasterRCNNTrainer} or torchvision's {@link TorchvisionTrainer}. The loop gives
 * every family the same samples (the {@link dev.frcnn.data.SampleTransform} of the family, flips drawn by the loop),
 * the same hooks (lr schedule and warm-up, checkpoints, evaluation, divergence stop, data parallelism) and the same
 * optimizer state handling; a family decides its losses, its optimizer's groups and how it reads the samples.
 * {@link StepTrainers#create} builds the one a config asks for.
 */
public interface StepTrainer {
    /** The model being trained (its {@link DetectionModel#module()} holds the parameters the optimizer updates). */
    DetectionModel model();

    /** The optimizer: one group per trainable parameter, in {@code named_parameters()} order. */
    TrainOptimizer optimizer();

    /** Per optimizer group, in group order, its lr over the base lr (what {@link LrSchedule} scales). */
    double[] lrMultipliers();

    /**
     * The names of the values {@link #trainBatch} returns, in that order, the total last ({@code losses.csv}'s
     * columns, the loss chart's series, a divergence's message).
     */
    List<String> lossNames();

    /**
     * Clips the global L2 norm of the trainable parameters' gradients to {@code maxNorm} before each optimizer step
     * (after {@link #setAfterBackward}'s action); 0 turns it off.
     *
     * @throws IllegalArgumentException if {@code maxNorm} is negative or not finite
     */
    void setClipGradNorm(double maxNorm);

    /**
     * Sets what runs after each step's backward, before clipping and the optimizer step (data parallelism's
     * gradient average, {@link GradientAllReduce#averageGradients()}).
     *
     * @param hook run once per step in the training thread; null runs nothing
     */
    void setAfterBackward(Runnable hook);

    /**
     * One optimisation step on a batch of samples as the family's {@link dev.frcnn.data.SampleTransform} made them:
     * zero the gradients, forward and losses, the divergence check, backward, the after-backward action, optional
     * clipping, the optimizer step. Every temporary is freed before it returns.
     *
     * @param imgs {@code N >= 1} (3, H_i, W_i) float32 images on the model's device
     * @param bboxes per image (R_i, 4) float32 gt boxes (ymin, xmin, ymax, xmax) in pixels of {@code imgs.get(i)}
     * @param labels per image (R_i,) int64 0-based foreground labels
     * @param scales per image, the sample's size over the original image's (the reference's {@code scale})
     * @param beforeImage run with an image's batch index before the random choices made for it (the loop re-seeds
     *     the sampler there with the image's sample index); a family that draws for the whole batch at once runs it
     *     once, with 0
     * @return the values named by {@link #lossNames()}
     * @throws NonFiniteLossException if a loss is NaN or infinite; then neither backward nor the step has run
     */
    double[] trainBatch(List<Tensor> imgs, List<Tensor> bboxes, List<Tensor> labels, double[] scales,
                        IntConsumer beforeImage);

    /**
     * Loads the weights a fresh run starts from (config {@code load_path}; not on a resume), as the family reads
     * them: for the reference family, ImageNet backbone weights or a whole detector ({@code Detectors.load}); for
     * torchvision's, a torchvision state dict ({@code .pth}) or our {@code .ckpt}, with the box predictor replaced when
     * its class count differs (torchvision's fine-tuning tutorial, {@code TorchvisionFasterRCNN.loadForFineTuning}).
     *
     * @param file the weights file
     * @param cfg the run's config
     * @param log where what was loaded is reported
     * @throws IOException if the file cannot be read
     * @throws dev.frcnn.io.WeightsFormatException if it is not a weights file this family reads
     * @throws dev.frcnn.io.WeightsMismatchException if its tensors do not fit the model (names the file, keys, shapes)
     */
    void loadInitialWeights(java.nio.file.Path file, dev.frcnn.config.Config cfg, java.io.PrintStream log)
            throws java.io.IOException;
}
