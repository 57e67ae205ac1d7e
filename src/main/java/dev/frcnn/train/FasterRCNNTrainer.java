package dev.frcnn.train;

import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.roi.RoIHead;
import dev.frcnn.model.rpn.RegionProposalNetwork;
import dev.frcnn.tensor.Autocast;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.NativeHeap;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorIndex;
import org.bytedeco.pytorch.TensorIndexVector;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.*;

/**
 * Computes the four Faster R-CNN losses for one image and takes optimizer steps; mirrors the reference's
 * {@code trainer.FasterRCNNTrainer} ({@code forward}, {@code train_step}) and
 * {@code FasterRCNN.get_optimizer}/{@code scale_lr}.
 *
 * <p>Losses, as the reference computes them:
 * <ul>
 *   <li>{@code rpn_loc_loss}: smooth L1 with sigma {@code rpnSigma} over positive anchors, divided by the number
 *       of anchors with label {@code >= 0};</li>
 *   <li>{@code rpn_cls_loss}: cross entropy over the anchors' (bg, fg) scores, ignoring label -1;</li>
 *   <li>{@code roi_loc_loss}: smooth L1 with sigma {@code roiSigma} of the gt class's loc, over positive samples,
 *       divided by the number of samples;</li>
 *   <li>{@code roi_cls_loss}: mean cross entropy over the sampled RoIs (label 0 = background);</li>
 *   <li>{@code total_loss}: their sum in that order.</li>
 * </ul>
 * Only batches of one image are supported, as in the reference.
 */
public final class FasterRCNNTrainer {
    /** The losses of one forward pass: 0-dim float32 tensors (the total is differentiable). */
    public record Losses(Tensor rpnLocLoss, Tensor rpnClsLoss, Tensor roiLocLoss, Tensor roiClsLoss, Tensor totalLoss) {
        /** The five values as doubles, in the order rpn_loc, rpn_cls, roi_loc, roi_cls, total (copies to the host). */
        public double[] values() {
            return new double[]{rpnLocLoss.item_double(), rpnClsLoss.item_double(), roiLocLoss.item_double(),
                    roiClsLoss.item_double(), totalLoss.item_double()};
        }

        /** Loss names in the order of {@link #values()}. */
        public static final List<String> NAMES = List.of("rpn_loc_loss", "rpn_cls_loss", "roi_loc_loss", "roi_cls_loss", "total_loss");
    }

    /** Everything one forward pass computed, for tests and diagnostics. */
    public record Trace(Losses losses, RegionProposalNetwork.Output rpn, ProposalTargetCreator.Result roiTargets,
                        AnchorTargetCreator.Result rpnTargets, RoIHead.Output head) {}

    private final FasterRCNN fasterRcnn;
    private final AnchorTargetCreator anchorTargetCreator;
    private final ProposalTargetCreator proposalTargetCreator;
    private final double rpnSigma;
    private final double roiSigma;
    private final TrainOptimizer optimizer;
    private double clipGradNorm;
    private Runnable afterBackward;

    /**
     * @param fasterRcnn the model to train (its parameters with requires_grad are optimized)
     * @param rpnSigma smooth-L1 sigma of the RPN loc loss (reference: 3)
     * @param roiSigma smooth-L1 sigma of the head loc loss (reference: 1)
     * @param lr learning rate of the weights; biases get {@code 2 * lr}
     * @param weightDecay weight decay of the weights; biases get none
     * @param useAdam Adam instead of SGD with momentum 0.9
     * @param sampler the one source of random choices for anchor and RoI subsampling
     */
    public FasterRCNNTrainer(FasterRCNN fasterRcnn, double rpnSigma, double roiSigma, double lr, double weightDecay,
                             boolean useAdam, Sampler sampler) {
        this(fasterRcnn, rpnSigma, roiSigma, lr, weightDecay, useAdam, sampler, dev.frcnn.config.Config.DEFAULT_ROI_N_SAMPLE);
    }

    /**
     * As {@link #FasterRCNNTrainer(FasterRCNN, double, double, double, double, boolean, Sampler)} with the number of
     * RoIs sampled per image for the head's losses (config {@code roi_n_sample}).
     *
     * @param roiNSample {@code n_sample} of the {@link ProposalTargetCreator} (the reference's 128), {@code >= 1};
     *     {@code round(0.25 * roiNSample)} of them at most are positives
     * @throws IllegalArgumentException if {@code roiNSample < 1}
     */
    public FasterRCNNTrainer(FasterRCNN fasterRcnn, double rpnSigma, double roiSigma, double lr, double weightDecay,
                             boolean useAdam, Sampler sampler, int roiNSample) {
        this.fasterRcnn = Objects.requireNonNull(fasterRcnn, "fasterRcnn");
        this.rpnSigma = rpnSigma;
        this.roiSigma = roiSigma;
        this.anchorTargetCreator = new AnchorTargetCreator(256, 0.7, 0.3, 0.5, sampler);
        this.proposalTargetCreator = new ProposalTargetCreator(roiNSample, 0.25, 0.5, 0.5, 0.0,
                fasterRcnn.locNormalization(), sampler);
        this.optimizer = makeOptimizer(fasterRcnn, lr, weightDecay, useAdam);
    }

    /** The model being trained. */
    public FasterRCNN fasterRcnn() { return fasterRcnn; }

    /** The optimizer: SGD (or Adam) with one parameter group per trainable parameter, as the reference builds it. */
    public TrainOptimizer optimizer() { return optimizer; }

    /**
     * The reference's {@code get_optimizer}: one parameter group per trainable parameter, in
     * {@code named_parameters()} order; names containing {@code bias} get lr x2 ({@link #lrMultiplier}) and no weight
     * decay. (One group per parameter, exactly as the reference, so optimizer state maps 1:1 to parameter names.) SGD
     * is {@link MomentumSgd} (momentum 0.9, LibTorch's SGD bit for bit in one pass per parameter); Adam is LibTorch's.
     */
    static TrainOptimizer makeOptimizer(FasterRCNN model, double lr, double weightDecay, boolean useAdam) {
        StringTensorDict np = model.named_parameters(true);
        List<String> names = new ArrayList<>();
        List<Tensor> params = new ArrayList<>();
        List<double[]> groupSettings = new ArrayList<>();
        for (long i = 0; i < np.size(); i++) {
            String name = np.get(i).key().getString();
            Tensor p = np.get(i).value();
            if (!p.requires_grad()) continue;
            boolean bias = name.contains("bias");
            names.add(name);
            params.add(p);
            groupSettings.add(new double[]{lrMultiplier(name) * lr, bias ? 0.0 : weightDecay});
        }
        if (params.isEmpty()) throw new IllegalArgumentException("the model has no trainable parameters");
        if (!useAdam) {
            double[] lrs = groupSettings.stream().mapToDouble(g -> g[0]).toArray();
            double[] wds = groupSettings.stream().mapToDouble(g -> g[1]).toArray();
            return new MomentumSgd(names, params, lrs, wds, 0.9);
        }
        Optimizer opt = null;
        List<TrainOptimizer.Group> groups = new ArrayList<>();
        for (int g = 0; g < params.size(); g++) {
            AdamOptions o = new AdamOptions(groupSettings.get(g)[0]);
            o.weight_decay().put(groupSettings.get(g)[1]);
            TensorVector ps = new TensorVector(params.get(g));
            if (opt == null) opt = new Adam(ps, o); else opt.add_param_group(new OptimizerParamGroup(ps, o));
            groups.add(new TrainOptimizer.Group(names.get(g), groupSettings.get(g)[0], groupSettings.get(g)[1], 0, 0,
                    false));
        }
        // Rewrite each group's options after adding it (newer LibTorch merges fields equal to the defaults).
        for (int g = 0; g < groupSettings.size(); g++) {
            AdamOptions o = new AdamOptions(opt.param_groups().get(g).options());
            o.set_lr(groupSettings.get(g)[0]);
            o.weight_decay().put(groupSettings.get(g)[1]);
        }
        return new LibTorchOptimizer(opt, groups);
    }

    /**
     * The reference's rule for a parameter group's learning rate: a parameter whose name contains {@code bias} gets
     * twice the base lr, any other the base lr. The one place of that rule: the optimizer's initial groups and
     * {@link LrSchedule} (through {@link #lrMultipliers()}) use it.
     *
     * @param parameterName the parameter's name in {@code named_parameters()}
     * @return 2 or 1
     */
    static double lrMultiplier(String parameterName) {
        return parameterName.contains("bias") ? 2.0 : 1.0;
    }

    /** Per parameter group, in group order, its lr over the base lr ({@link #lrMultiplier}). */
    public double[] lrMultipliers() {
        List<TrainOptimizer.Group> groups = optimizer.groups();
        double[] out = new double[groups.size()];
        for (int g = 0; g < out.length; g++) out[g] = lrMultiplier(groups.get(g).name());
        return out;
    }

    /** Every parameter group's learning rate, in group order (set by {@link LrSchedule} during training). */
    public double[] groupLrs() {
        double[] out = new double[optimizer.groupCount()];
        for (int g = 0; g < out.length; g++) out[g] = optimizer.lr(g);
        return out;
    }

    /** The learning rate of the first group (a weight), as the reference logs it. */
    public double lr() {
        return optimizer.lr(0);
    }

    /**
     * Forward pass and losses; mirrors {@code FasterRCNNTrainer.forward(imgs, bboxes, labels, scale)}.
     *
     * @param imgs (1, 3, H, W) float32 preprocessed image on the model's device
     * @param bboxes (1, R, 4) or (R, 4) float32 gt boxes (ymin, xmin, ymax, xmax) in pixels of the preprocessed image
     * @param labels (1, R) or (R,) int64 gt labels, 0-based foreground classes
     * @param scale preprocessed size / original size (the reference's {@code scale})
     * @throws IllegalArgumentException for a batch of more than one image or no gt box
     */
    public Losses forward(Tensor imgs, Tensor bboxes, Tensor labels, double scale) {
        return trace(imgs, bboxes, labels, scale).losses();
    }

    /** As {@link #forward}, also returning the intermediates. */
    public Trace trace(Tensor imgs, Tensor bboxes, Tensor labels, double scale) {
        if (imgs.dim() != 4 || imgs.size(0) != 1) {
            throw new IllegalArgumentException("only batches of one image are supported, got images of shape "
                    + java.util.Arrays.toString(imgs.sizes().vec().get()));
        }
        Tensor bbox = bboxes.dim() == 3 ? bboxes.get(0) : bboxes;
        Tensor label = labels.dim() == 2 ? labels.get(0) : labels;
        if (bbox.size(0) == 0) throw new IllegalArgumentException("an image without gt boxes cannot be trained on");
        bbox = bbox.to(imgs.device(), ScalarType.Float);
        label = label.to(imgs.device(), ScalarType.Long);
        long h = imgs.size(2), w = imgs.size(3);

        // The network runs in the model's precision (bf16: convs/linears under autocast, outputs cast back to
        // float32 by the RPN and the head); targets and losses below are float32 either way.
        RegionProposalNetwork.Output rpn;
        ProposalTargetCreator.Result roiTargets;
        RoIHead.Output head;
        try (Autocast ac = fasterRcnn.autocast(imgs.device())) {
            Tensor features = fasterRcnn.extract(imgs);
            rpn = fasterRcnn.rpn().forward(features, h, w, scale);
            roiTargets = proposalTargetCreator.call(rpn.rois(), bbox, label);
            Tensor sampleRoi = roiTargets.sampleRoi();
            Tensor sampleRoiIndex = zeros(new long[]{sampleRoi.size(0)},
                    new TensorOptions(ScalarType.Long).device(new org.bytedeco.pytorch.DeviceOptional(imgs.device())));
            head = fasterRcnn.head().forward(features, sampleRoi, sampleRoiIndex);
        }
        Tensor rpnScore = rpn.rpnScores().get(0);
        Tensor rpnLoc = rpn.rpnLocs().get(0);

        // RPN losses
        AnchorTargetCreator.Result rpnTargets = anchorTargetCreator.call(bbox, rpn.anchor(), (int) h, (int) w);
        Tensor gtRpnLabel = rpnTargets.label();
        Tensor rpnLocLoss = fastRcnnLocLoss(rpnLoc, rpnTargets.loc(), gtRpnLabel, rpnSigma);
        Tensor rpnClsLoss = cross_entropy_loss(rpnScore, gtRpnLabel, new org.bytedeco.pytorch.TensorOptional(), 1, -1, 0.0);

        // RoI losses
        long nSample = head.roiClsLocs().size(0);
        Tensor roiClsLoc = head.roiClsLocs().view(nSample, -1, 4);
        Tensor gtRoiLabel = roiTargets.gtRoiLabel();
        Tensor rows = arange(new Scalar(nSample), new TensorOptions(ScalarType.Long).device(
                new org.bytedeco.pytorch.DeviceOptional(imgs.device())));
        Tensor roiLoc = roiClsLoc.index(new TensorIndexVector(new TensorIndex(rows), new TensorIndex(gtRoiLabel)));
        Tensor roiLocLoss = fastRcnnLocLoss(roiLoc.contiguous(), roiTargets.gtRoiLoc(), gtRoiLabel, roiSigma);
        Tensor roiClsLoss = cross_entropy_loss(head.roiScores(), gtRoiLabel, new org.bytedeco.pytorch.TensorOptional(), 1, -100, 0.0);

        Tensor total = rpnLocLoss.add(rpnClsLoss).add(roiLocLoss).add(roiClsLoss);
        return new Trace(new Losses(rpnLocLoss, rpnClsLoss, roiLocLoss, roiClsLoss, total), rpn, roiTargets, rpnTargets, head);
    }

    /**
     * One optimization step: zero the gradients, forward, backward of the total loss, (the action set by
     * {@link #setAfterBackward}, e.g. the gradients' all-reduce of data parallelism), (optional gradient clipping,
     * {@link #setClipGradNorm}), optimizer step; mirrors {@code FasterRCNNTrainer.train_step}. Counts as one
     * iteration for {@link NativeHeap#iterationDone()}. Every temporary is freed before it returns, with or without
     * an enclosing {@link PointerScope}.
     *
     * @return the losses of the forward pass, detached; they belong to the caller's innermost
     *     {@link PointerScope} if there is one, else to the caller (close them)
     * @throws NonFiniteLossException if any of the losses is NaN or infinite; then neither backward nor the
     *     optimizer step has run, so the parameters and the optimizer state are those before this step
     */
    public Losses trainStep(Tensor imgs, Tensor bboxes, Tensor labels, double scale) {
        NativeHeap.iterationDone();
        PointerScope outer = PointerScope.getInnerScope();
        Tensor[] out = new Tensor[5];
        try (PointerScope scope = new PointerScope()) {
            optimizer.zeroGrad();
            Losses losses = forward(imgs, bboxes, labels, scale);
            double[] v = losses.values();
            for (double x : v) {
                if (!Double.isFinite(x)) throw new NonFiniteLossException(v);
            }
            ConvolutionBackward.backward(losses.totalLoss());
            if (afterBackward != null) afterBackward.run();
            if (clipGradNorm > 0) clip_grad_norm_(trainableParameters(), clipGradNorm);
            optimizer.step();
            Tensor[] in = {losses.rpnLocLoss(), losses.rpnClsLoss(), losses.roiLocLoss(), losses.roiClsLoss(), losses.totalLoss()};
            for (int i = 0; i < in.length; i++) out[i] = in[i].detach().retainReference();
        }
        for (Tensor t : out) {
            if (outer != null) {
                outer.attach(t);
                t.releaseReference();
            }
        }
        return new Losses(out[0], out[1], out[2], out[3], out[4]);
    }

    /**
     * Sets gradient clipping: before each optimizer step the gradients of all trainable parameters are rescaled
     * so that their global L2 norm is at most {@code maxNorm} ({@code torch.nn.utils.clip_grad_norm_}, norm type
     * 2). The reference does not clip; {@code 0} (the default) turns it off.
     *
     * @throws IllegalArgumentException if {@code maxNorm} is negative or not finite
     */
    public void setClipGradNorm(double maxNorm) {
        if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) throw new IllegalArgumentException("clip_grad_norm must be finite and >= 0, got " + maxNorm);
        this.clipGradNorm = maxNorm;
    }

    /**
     * Sets what runs in each {@link #trainStep} after the backward and before the gradient clipping and the optimizer
     * step (data parallelism: {@link GradientAllReduce#averageGradients()}); null (the default) runs nothing.
     */
    void setAfterBackward(Runnable afterBackward) {
        this.afterBackward = afterBackward;
    }

    private TensorVector trainableParameters() {
        StringTensorDict np = fasterRcnn.named_parameters(true);
        TensorVector out = new TensorVector();
        for (long i = 0; i < np.size(); i++) {
            Tensor p = np.get(i).value();
            if (p.requires_grad()) out.push_back(p);
        }
        return out;
    }

    /**
     * The reference's {@code _smooth_l1_loss(x, t, in_weight, sigma)}: with {@code d = in_weight * (x - t)},
     * {@code sum(|d| < 1/sigma^2 ? sigma^2/2 * d^2 : |d| - 0.5/sigma^2)}.
     */
    static Tensor smoothL1Loss(Tensor x, Tensor t, Tensor inWeight, double sigma) {
        double sigma2 = sigma * sigma;
        Tensor diff = inWeight.mul(x.sub(t));
        Tensor absDiff = diff.abs();
        Tensor flag = absDiff.detach().lt(new Scalar(1.0 / sigma2)).to(ScalarType.Float);
        Tensor quadratic = flag.mul(new Scalar(sigma2 / 2.0)).mul(diff.mul(diff));
        Tensor linear = flag.neg().add(new Scalar(1.0)).mul(absDiff.sub(new Scalar(0.5 / sigma2)));
        return quadratic.add(linear).sum();
    }

    /**
     * The reference's {@code _fast_rcnn_loc_loss}: smooth L1 over rows with {@code gt_label > 0}, divided by the
     * number of rows with {@code gt_label >= 0}.
     *
     * @param predLoc (S, 4) float32 predicted locs
     * @param gtLoc (S, 4) float32 target locs
     * @param gtLabel (S,) int64 labels (-1 ignored, 0 negative, > 0 positive)
     */
    static Tensor fastRcnnLocLoss(Tensor predLoc, Tensor gtLoc, Tensor gtLabel, double sigma) {
        Tensor inWeight = gtLabel.gt(new Scalar(0)).view(-1, 1).expand_as(gtLoc).to(ScalarType.Float);
        Tensor locLoss = smoothL1Loss(predLoc, gtLoc, inWeight, sigma);
        return locLoss.div(gtLabel.ge(new Scalar(0)).sum().to(ScalarType.Float));
    }
}
