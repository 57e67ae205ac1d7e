package dev.frcnn.train;

import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.model.roi.FastRCNNPredictor;
import dev.frcnn.model.rpn.MultiLevelRegionProposalNetwork;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.NativeHeap;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.clip_grad_norm_;

/**
 * Trains torchvision's Faster R-CNN ResNet-50 FPN ({@link TorchvisionFasterRCNN}) the way torchvision's detection
 * references and its fine-tuning tutorial do: the training forward of a padded batch
 * ({@link TorchvisionFasterRCNN#trainingForward}), torchvision's four losses ({@link TorchvisionLosses}: RPN targets
 * and losses, RoI samples with the gt appended, the box head on the sampled RoIs in ascending order, Fast R-CNN
 * losses), their sum {@code loss_classifier + loss_box_reg + loss_objectness + loss_rpn_box_reg} (engine.py's order),
 * backward, optional gradient clipping, and {@code torch.optim.SGD(params, lr, momentum, weight_decay)} over the
 * parameters with {@code requires_grad} ({@link MomentumSgd}: one group per parameter, every group the same lr and
 * weight decay, biases included, unlike the reference family's {@link FasterRCNNTrainer}).
 *
 * <p>With the model's precision {@code bf16} the backbone's forward runs under autocast (as in inference); the RPN,
 * the RoI heads, the losses, the gradients' accumulation and the optimizer stay float32. Not thread-safe.
 */
public final class TorchvisionTrainer implements StepTrainer {
    /** torchvision's tutorial: {@code momentum=0.9}. */
    public static final double TUTORIAL_MOMENTUM = 0.9;
    /** torchvision's tutorial: {@code weight_decay=0.0005}. */
    public static final double TUTORIAL_WEIGHT_DECAY = 5e-4;
    /** torchvision's tutorial: {@code lr=0.005}. */
    public static final double TUTORIAL_LR = 0.005;
    /** The loss names in torchvision's order, then {@code total_loss} (what {@link Losses#values()} gives). */
    public static final List<String> NAMES = List.of("loss_classifier", "loss_box_reg", "loss_objectness",
            "loss_rpn_box_reg", "total_loss");

    /**
     * One step's losses.
     *
     * @param losses torchvision's four float32 scalars
     * @param total float32 scalar, their sum in torchvision's order
     * @param head the box head's outputs on the sampled RoIs (image 0's rows first, ascending proposal order)
     */
    public record Losses(TorchvisionLosses.Losses losses, Tensor total, TorchvisionLosses.HeadOutputs head) {
        /** @return the four losses then the total, in the order of {@link #NAMES} */
        public double[] values() {
            return new double[]{losses.lossClassifier().item_double(), losses.lossBoxReg().item_double(),
                    losses.lossObjectness().item_double(), losses.lossRpnBoxReg().item_double(), total.item_double()};
        }
    }

    private final TorchvisionFasterRCNN model;
    private final TorchvisionLosses losses;
    private final TrainOptimizer optimizer;
    private double clipGradNorm;
    private Runnable afterBackward = () -> {};

    /**
     * @param model the model to train (its parameters with {@code requires_grad} are optimized); put in training
     *     mode by {@link #trainStep}
     * @param losses torchvision's losses with their samplers ({@link TorchvisionLosses#fasterRcnnDefaults})
     * @param lr learning rate of every parameter
     * @param momentum SGD momentum (torchvision's tutorial: 0.9)
     * @param weightDecay L2 weight decay of every parameter, biases included (tutorial: 5e-4)
     * @throws IllegalArgumentException if the model has no trainable parameter or a setting is negative or not finite
     */
    public TorchvisionTrainer(TorchvisionFasterRCNN model, TorchvisionLosses losses, double lr, double momentum,
                              double weightDecay) {
        this.model = Objects.requireNonNull(model, "model");
        this.losses = Objects.requireNonNull(losses, "losses");
        for (double v : new double[]{lr, momentum, weightDecay}) {
            if (!(v >= 0) || Double.isInfinite(v)) {
                throw new IllegalArgumentException("TorchvisionTrainer: lr, momentum and weight decay must be finite and "
                        + ">= 0, got lr " + lr + ", momentum " + momentum + ", weight decay " + weightDecay);
            }
        }
        List<String> names = new ArrayList<>();
        List<Tensor> params = new ArrayList<>();
        StringTensorDict np = model.named_parameters(true);
        for (long i = 0; i < np.size(); i++) {
            Tensor p = np.get(i).value();
            if (!p.requires_grad()) continue;
            names.add(np.get(i).key().getString());
            params.add(p);
        }
        if (params.isEmpty()) throw new IllegalArgumentException("TorchvisionTrainer: the model has no trainable parameters");
        double[] lrs = new double[params.size()];
        double[] wds = new double[params.size()];
        Arrays.fill(lrs, lr);
        Arrays.fill(wds, weightDecay);
        this.optimizer = new MomentumSgd(names, params, lrs, wds, momentum);
    }

    /**
     * torchvision's fine-tuning tutorial: {@code SGD(params, lr, momentum=0.9, weight_decay=0.0005)} and torchvision's
     * default samplers drawing from {@code sampler}.
     *
     * @param model the model
     * @param lr learning rate (tutorial: {@link #TUTORIAL_LR})
     * @param sampler the random choices of the RPN and RoI samplers
     * @return the trainer
     */
    public static TorchvisionTrainer tutorial(TorchvisionFasterRCNN model, double lr, Sampler sampler) {
        return new TorchvisionTrainer(model, TorchvisionLosses.fasterRcnnDefaults(sampler), lr, TUTORIAL_MOMENTUM,
                TUTORIAL_WEIGHT_DECAY);
    }

    /** The model being trained. */
    @Override
    public TorchvisionFasterRCNN model() { return model; }

    /**
     * Loads a torchvision state dict ({@code .pth} as torchvision saves it, {@link dev.frcnn.io.PthReader}) or our
     * {@code .ckpt} of this family, as torchvision's fine-tuning tutorial does
     * ({@link TorchvisionFasterRCNN#loadForFineTuning(java.util.Map, String)}): with another class count than the
     * model's, every tensor but the box predictor's loads and the predictor keeps its fresh initialisation. The
     * model's FrozenBatchNorm2d eps stays what it was built with (0.0, torchvision's COCO checkpoints; a file saved
     * from a model built with BatchNorm2d used 1e-5, which changes its outputs by less than the running variances'
     * rounding: {@code docs/torchvision.md}).
     */
    @Override
    public void loadInitialWeights(java.nio.file.Path file, dev.frcnn.config.Config cfg, java.io.PrintStream log)
            throws java.io.IOException {
        java.util.Map<String, Tensor> sd = dev.frcnn.io.ModelWeights.isCheckpoint(file)
                ? dev.frcnn.io.ModelWeights.read(file).stateDict() : dev.frcnn.io.PthReader.readStateDict(file);
        try {
            boolean replaced = model.loadForFineTuning(sd, file.toString());
            log.printf("loaded %s%s%n", file, replaced ? " without its box predictor (another class count): "
                    + "the predictor for " + model.classNames().size() + " classes + background starts fresh" : "");
        } finally {
            sd.values().forEach(Tensor::close);
        }
    }

    /** {@link #NAMES}: torchvision's four losses, then their sum. */
    @Override
    public List<String> lossNames() { return NAMES; }

    /** Every group at the base lr: torchvision's recipe has one lr for weights and biases (all 1). */
    @Override
    public double[] lrMultipliers() {
        double[] m = new double[optimizer.groups().size()];
        Arrays.fill(m, 1.0);
        return m;
    }

    /**
     * Sets what runs after each step's backward and before clipping and the optimizer step, as
     * {@link FasterRCNNTrainer#setAfterBackward} (data parallelism's gradient average).
     *
     * @param hook run once per step; null runs nothing
     */
    @Override
    public void setAfterBackward(Runnable hook) {
        this.afterBackward = hook == null ? () -> {} : hook;
    }

    /**
     * {@link #trainStep} on the train loop's samples ({@link dev.frcnn.data.TorchvisionTrainTransform}: RGB in
     * [0, 1] at the image's own size, flipped or not; the model's transform resizes and normalises): the boxes go from
     * (ymin, xmin, ymax, xmax) to torchvision's (x1, y1, x2, y2) in the same pixels, the 0-based labels to 1..K
     * (0 is torchvision's background). torchvision's samplers draw for the whole batch at once, so
     * {@code beforeImage} runs once, with 0, before the forward; {@code scales} are not used (the model's transform
     * resizes).
     */
    @Override
    public double[] trainBatch(List<Tensor> imgs, List<Tensor> bboxes, List<Tensor> labels, double[] scales,
                               java.util.function.IntConsumer beforeImage) {
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> boxes = new ArrayList<>(bboxes.size()), classes = new ArrayList<>(labels.size());
            for (Tensor b : bboxes) boxes.add(dev.frcnn.model.utils.BoxOps.swapAxes(b));
            for (Tensor l : labels) classes.add(l.add(new org.bytedeco.pytorch.Scalar(1L)));
            beforeImage.accept(0);
            return trainStep(imgs, boxes, classes);
        }
    }

    /** The optimizer: one SGD group per trainable parameter, in {@code named_parameters()} order. */
    public TrainOptimizer optimizer() { return optimizer; }

    /** The learning rate of the first group (every group has the same unless a schedule changes them). */
    public double lr() { return optimizer.lr(0); }

    /**
     * Sets gradient clipping as {@link FasterRCNNTrainer#setClipGradNorm}: the global L2 norm of the trainable
     * parameters' gradients is clipped to {@code maxNorm} before each step; 0 (the default) turns it off.
     *
     * @throws IllegalArgumentException if {@code maxNorm} is negative or not finite
     */
    public void setClipGradNorm(double maxNorm) {
        if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("clip_grad_norm must be finite and >= 0, got " + maxNorm);
        }
        this.clipGradNorm = maxNorm;
    }

    /**
     * The training forward and torchvision's four losses of one padded batch (the model must be in training mode).
     *
     * @param images (3, H_i, W_i) float32 RGB in [0, 1] on the model's device
     * @param gtBoxes per image (G_i, 4) float32 (x1, y1, x2, y2) gt boxes in the image's pixels
     * @param gtLabels per image (G_i,) int64 labels 1..K-1 (0 is the background)
     * @return the losses, with their graph
     * @throws IllegalArgumentException as {@link TorchvisionFasterRCNN#trainingForward} and {@link TorchvisionLosses#compute}
     */
    public Losses forward(List<Tensor> images, List<Tensor> gtBoxes, List<Tensor> gtLabels) {
        TorchvisionFasterRCNN.TrainingForward f = model.trainingForward(images, gtBoxes);
        List<Tensor> proposals = new ArrayList<>();
        for (MultiLevelRegionProposalNetwork.Proposals p : f.rpn().proposals()) proposals.add(p.boxes());
        return losses(f, gtLabels, proposals);
    }

    /**
     * The losses of a training forward with given RPN proposals (what {@link #forward} does with the model's own; a
     * parity test hands in torchvision's stored proposals here).
     *
     * @param forward the training forward of the batch
     * @param gtLabels per image (G_i,) int64 labels
     * @param proposals per image (R_i, 4) float32 proposals in the resized frame (detached; the gt is appended by the
     *     RoI sampling)
     * @return the losses, with their graph
     */
    public Losses losses(TorchvisionFasterRCNN.TrainingForward forward, List<Tensor> gtLabels, List<Tensor> proposals) {
        MultiLevelRegionProposalNetwork.Output rpn = forward.rpn();
        List<Tensor> labels = new ArrayList<>(gtLabels.size());
        List<Tensor> detached = new ArrayList<>(proposals.size());
        for (Tensor l : gtLabels) labels.add(l.to(rpn.objectness().device(), org.bytedeco.pytorch.global.torch.ScalarType.Long));
        for (Tensor p : proposals) detached.add(p.detach());
        TorchvisionLosses.RpnOutputs rpnOut = new TorchvisionLosses.RpnOutputs(rpn.anchors(),
                rpn.objectness().reshape(-1, 1), rpn.deltas().reshape(-1, 4), detached);
        TorchvisionLosses.HeadOutputs[] head = new TorchvisionLosses.HeadOutputs[1];
        TorchvisionLosses.Losses l = losses.compute(forward.batch(), forward.gtBoxes(), labels, rpnOut, rois -> {
            FastRCNNPredictor.Output out = model.boxHeadForward(forward, rois);
            head[0] = new TorchvisionLosses.HeadOutputs(out.classLogits(), out.boxRegression());
            return head[0];
        });
        return new Losses(l, l.total(), head[0]);
    }

    /**
     * One optimization step: training mode, zero the gradients, {@link #forward}, backward of the total, the action of
     * {@link #setAfterBackward}, optional clipping, SGD step. Counts as one iteration for {@link NativeHeap#iterationDone()}; every temporary is freed
     * before it returns.
     *
     * @param images (3, H_i, W_i) float32 RGB in [0, 1]
     * @param gtBoxes per image (G_i, 4) float32 (x1, y1, x2, y2) in the image's pixels
     * @param gtLabels per image (G_i,) int64 labels 1..K-1
     * @return the four losses and the total in the order of {@link #NAMES}
     * @throws NonFiniteLossException if a loss is NaN or infinite; then neither backward nor the step has run
     */
    public double[] trainStep(List<Tensor> images, List<Tensor> gtBoxes, List<Tensor> gtLabels) {
        NativeHeap.iterationDone();
        model.train(true);
        try (PointerScope scope = new PointerScope()) {
            optimizer.zeroGrad();
            Losses l = forward(images, gtBoxes, gtLabels);
            double[] v = l.values();
            for (double x : v) {
                if (!Double.isFinite(x)) throw new NonFiniteLossException(NAMES, v);
            }
            ConvolutionBackward.backward(l.total());
            afterBackward.run();
            if (clipGradNorm > 0) clip_grad_norm_(StepTrainers.trainableParameters(model), clipGradNorm);
            optimizer.step();
            return v;
        }
    }

}
