package dev.frcnn.train;

import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.ImageList;
import dev.frcnn.model.ImageSize;
import dev.frcnn.model.roi.RoIHead;
import dev.frcnn.model.rpn.RegionProposalNetwork;
import dev.frcnn.tensor.Autocast;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.NativeHeap;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

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
 *
 * <p>A batch of one image ({@link #forward}, {@link #trainStep(Tensor, Tensor, Tensor, double)}) is the reference's
 * step, unpadded. A batch of several ({@link #traceBatch}, {@link #trainStep(List, List, List, double[])}; config
 * {@code batch_size}) pads the images bottom/right to a common size that is a multiple of the backbone's feature stride
 * ({@link ImageList#pad}), runs the extractor, the RPN's convolutions and the RoI head once on the batch, and makes
 * anchors, proposals and targets per image over that image's own feature cells and size; each image's four losses
 * are the reference's, and the batch's are their mean over the images ({@code docs/training.md}, "Batches").
 */
public final class FasterRCNNTrainer implements StepTrainer {
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

    /**
     * Everything the forward pass of a batch computed.
     *
     * @param losses the batch's losses: each of the four the mean over the images of that image's loss, the total
     *     their sum (what the backward of a batch step differentiates)
     * @param images each image's {@link Trace}, in batch order: its own losses (the reference's for that image), its
     *     RPN outputs over its own feature cells ({@code rpnLocs} {@code (1, h_i*w_i*A, 4)}, its anchors, its
     *     proposals with {@code roiIndices} = its batch index), its targets and its rows of the head's outputs
     * @param batch the images the extractor ran on: {@code (N, 3, Hp, Wp)}, padded, with each image's own size (a
     *     batch of one image is not padded)
     */
    public record BatchTrace(Losses losses, List<Trace> images, ImageList batch) {}

    private final FasterRCNN fasterRcnn;
    private final AnchorTargetCreator anchorTargetCreator;
    private final ProposalTargetCreator proposalTargetCreator;
    private final double rpnSigma;
    private final double roiSigma;
    private final TrainOptimizer optimizer;
    private double clipGradNorm;
    private Runnable afterBackward = () -> {};
    /** (H << 32 | W) of an input to the (h, w) of its feature map, for {@link #featureSize}. */
    private final Map<Long, long[]> featureSizes = new HashMap<>();

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

    /** The model being trained ({@link #fasterRcnn()}). */
    @Override
    public FasterRCNN model() { return fasterRcnn; }

    /**
     * {@code Detectors.load} of the file ({@code ModelWeights.read}: ImageNet backbone weights, a reference-layout
     * detector {@code .pth}, or our {@code .ckpt}).
     */
    @Override
    public void loadInitialWeights(java.nio.file.Path file, dev.frcnn.config.Config cfg, java.io.PrintStream log)
            throws java.io.IOException {
        dev.frcnn.io.ModelWeights.Loaded w = dev.frcnn.io.ModelWeights.read(file);
        dev.frcnn.assembly.Detectors.load(fasterRcnn, cfg, w, file.toString());
    }

    /** {@link Losses#NAMES}: the reference's four losses, then the total. */
    @Override
    public List<String> lossNames() { return Losses.NAMES; }

    /**
     * {@link #trainStep(List, List, List, double[], IntConsumer)}'s values: the reference's samples
     * ({@link dev.frcnn.data.Transform}: resized, normalised, boxes in the resized image's pixels).
     */
    @Override
    public double[] trainBatch(List<Tensor> imgs, List<Tensor> bboxes, List<Tensor> labels, double[] scales,
                               IntConsumer beforeImage) {
        return trainStep(imgs, bboxes, labels, scales, beforeImage).values();
    }

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
        Losses losses = imageLosses(rpnLoc, rpnScore, rpnTargets, head, roiTargets, imgs.device());
        return new Trace(losses, rpn, roiTargets, rpnTargets, head);
    }

    /**
     * The reference's four losses of one image from its RPN outputs over its own anchors, its anchor targets, its
     * rows of the head's outputs and its RoI targets.
     *
     * @param rpnLoc (K, 4) float32 RPN offsets of the image's K anchors
     * @param rpnScore (K, 2) float32 RPN (bg, fg) logits
     */
    private Losses imageLosses(Tensor rpnLoc, Tensor rpnScore, AnchorTargetCreator.Result rpnTargets,
                               RoIHead.Output head, ProposalTargetCreator.Result roiTargets, Device device) {
        Tensor gtRpnLabel = rpnTargets.label();
        Tensor rpnLocLoss = fastRcnnLocLoss(rpnLoc, rpnTargets.loc(), gtRpnLabel, rpnSigma);
        Tensor rpnClsLoss = cross_entropy_loss(rpnScore, gtRpnLabel, new org.bytedeco.pytorch.TensorOptional(), 1, -1, 0.0);

        // RoI losses
        long nSample = head.roiClsLocs().size(0);
        Tensor roiClsLoc = head.roiClsLocs().view(nSample, -1, 4);
        Tensor gtRoiLabel = roiTargets.gtRoiLabel();
        Tensor rows = arange(new Scalar(nSample), new TensorOptions(ScalarType.Long).device(
                new org.bytedeco.pytorch.DeviceOptional(device)));
        Tensor roiLoc = roiClsLoc.index(new TensorIndexVector(new TensorIndex(rows), new TensorIndex(gtRoiLabel)));
        Tensor roiLocLoss = fastRcnnLocLoss(roiLoc.contiguous(), roiTargets.gtRoiLoc(), gtRoiLabel, roiSigma);
        Tensor roiClsLoss = cross_entropy_loss(head.roiScores(), gtRoiLabel, new org.bytedeco.pytorch.TensorOptional(), 1, -100, 0.0);

        Tensor total = rpnLocLoss.add(rpnClsLoss).add(roiLocLoss).add(roiClsLoss);
        return new Losses(rpnLocLoss, rpnClsLoss, roiLocLoss, roiClsLoss, total);
    }

    /**
     * The forward pass of a batch of images and its losses ({@code batch_size}). One image is exactly
     * {@link #trace} (the reference's step, unpadded). Several are padded bottom/right with zeros to a common size, a
     * multiple of the backbone's feature stride ({@link ImageList#pad}); the extractor, the RPN's convolutions and the
     * RoI head run once on the batch. Per image {@code i}, of size {@code (H_i, W_i)}, with {@code (h_i, w_i)} the
     * feature map that image alone would give: the RPN outputs over the top-left {@code h_i x w_i} cells of the
     * batch's map and the anchors of those cells (the reference's anchors for that image); proposals clipped to
     * {@code (H_i, W_i)}; RoI targets; the head on its sampled RoIs with batch index {@code i}; anchor targets with the
     * inside-image rule of {@code (H_i, W_i)}; the reference's four losses. The batch's losses are the means over the
     * images (torchvision's {@code RoIHeads}/{@code RPN} instead pool the samples of all images into one loss).
     *
     * <p>Random choices come from the sampler image by image, each image's in the reference's order: the RoI
     * sampling of image 0, its anchor sampling, then image 1's, and so on ({@link #traceBatch(List, List, List,
     * double[], IntConsumer)} re-seeds the sampler before each image's).
     *
     * @param imgs {@code N >= 1} (3, H_i, W_i) float32 preprocessed images, same device
     * @param bboxes per image (R_i, 4) or (1, R_i, 4) float32 gt boxes (ymin, xmin, ymax, xmax) in pixels of the
     *     preprocessed image
     * @param labels per image (R_i,) or (1, R_i) int64 gt labels, 0-based foreground classes
     * @param scales per image, preprocessed size / original size
     * @return the batch's losses and each image's trace
     * @throws IllegalArgumentException if the lists are empty or of different lengths, an image is not (3, H, W) or
     *     has no gt box
     */
    public BatchTrace traceBatch(List<Tensor> imgs, List<Tensor> bboxes, List<Tensor> labels, double[] scales) {
        return traceBatch(imgs, bboxes, labels, scales, i -> {});
    }

    /**
     * As {@link #traceBatch(List, List, List, double[])}, running {@code beforeImage.accept(i)} right before image
     * {@code i}'s random choices (its RoI sampling, then its anchor sampling): where training re-seeds the sampler
     * with the image's global sample index ({@link Seeds#stepSeed}), so that an image draws the same samples whatever
     * the batch size and the world size ({@code docs/distributed.md}, "What is deterministic").
     *
     * @param beforeImage called with {@code 0 .. N-1} in order, once per image, before that image's draws
     */
    public BatchTrace traceBatch(List<Tensor> imgs, List<Tensor> bboxes, List<Tensor> labels, double[] scales,
                                 IntConsumer beforeImage) {
        int n = imgs.size();
        if (n == 0 || bboxes.size() != n || labels.size() != n || scales.length != n) {
            throw new IllegalArgumentException("a batch needs as many boxes, labels and scales as images (at least one), got "
                    + n + " images, " + bboxes.size() + " boxes, " + labels.size() + " labels, " + scales.length + " scales");
        }
        for (Tensor im : imgs) {
            if (im.dim() != 3) {
                throw new IllegalArgumentException("each image of a batch must be (C, H, W), got "
                        + java.util.Arrays.toString(im.sizes().vec().get()));
            }
        }
        if (n == 1) {
            beforeImage.accept(0);
            Tensor img = imgs.get(0).unsqueeze(0);
            Trace t = trace(img, bboxes.get(0), labels.get(0), scales[0]);
            return new BatchTrace(t.losses(), List.of(t), new ImageList(img,
                    List.of(new ImageSize((int) img.size(2), (int) img.size(3)))));
        }
        Device device = imgs.get(0).device();
        List<Tensor> bbox = new ArrayList<>(n), label = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Tensor b = bboxes.get(i).dim() == 3 ? bboxes.get(i).get(0) : bboxes.get(i);
            Tensor l = labels.get(i).dim() == 2 ? labels.get(i).get(0) : labels.get(i);
            if (b.size(0) == 0) {
                throw new IllegalArgumentException("an image without gt boxes cannot be trained on (image " + i
                        + " of the batch)");
            }
            bbox.add(b.to(device, ScalarType.Float));
            label.add(l.to(device, ScalarType.Long));
        }
        List<long[]> cells = new ArrayList<>(n);
        for (Tensor im : imgs) cells.add(featureSize(im));
        ImageList batch = ImageList.pad(imgs, fasterRcnn.backbone().featureStride());
        RegionProposalNetwork rpnModule = fasterRcnn.rpn();
        int a = rpnModule.nAnchor();
        TensorOptions longOnDevice = new TensorOptions(ScalarType.Long).device(new org.bytedeco.pytorch.DeviceOptional(device));

        List<RegionProposalNetwork.Output> rpn = new ArrayList<>(n);
        List<ProposalTargetCreator.Result> roiTargets = new ArrayList<>(n);
        List<AnchorTargetCreator.Result> anchorTargets = new ArrayList<>(n);
        RoIHead.Output head;
        try (Autocast ac = fasterRcnn.autocast(device)) {
            Tensor features = fasterRcnn.extract(batch.tensors());
            long hh = features.size(2), ww = features.size(3);
            RegionProposalNetwork.Heads heads = rpnModule.heads(features);
            TensorVector sampleRois = new TensorVector(), sampleRoiIndices = new TensorVector();
            for (int i = 0; i < n; i++) {
                long h = cells.get(i)[0], w = cells.get(i)[1];
                ImageSize size = batch.imageSizes().get(i);
                Tensor loc = ownCells(heads.rpnLocs().get(i), hh, ww, h, w, a, 4);
                Tensor score = ownCells(heads.rpnScores().get(i), hh, ww, h, w, a, 2);
                Tensor fg = ownCells(heads.rpnFgScores().get(i), hh, ww, h, w, a, 1).view(-1);
                Tensor anchor = rpnModule.anchors(h, w, device);
                Tensor rois = rpnModule.proposalLayer().apply(loc.detach(), fg.detach(), anchor, size.height(),
                        size.width(), scales[i], rpnModule.is_training());
                Tensor roiIndex = zeros(new long[]{rois.size(0)}, longOnDevice).fill_(new Scalar(i));
                rpn.add(new RegionProposalNetwork.Output(loc.unsqueeze(0), score.unsqueeze(0), fg.unsqueeze(0), rois,
                        roiIndex, anchor));
                beforeImage.accept(i);
                ProposalTargetCreator.Result targets = proposalTargetCreator.call(rois, bbox.get(i), label.get(i));
                roiTargets.add(targets);
                anchorTargets.add(anchorTargetCreator.call(bbox.get(i), anchor, size.height(), size.width()));
                sampleRois.push_back(targets.sampleRoi());
                sampleRoiIndices.push_back(zeros(new long[]{targets.sampleRoi().size(0)}, longOnDevice)
                        .fill_(new Scalar(i)));
            }
            head = fasterRcnn.head().forward(features, cat(sampleRois, 0), cat(sampleRoiIndices, 0));
        }

        List<Trace> traces = new ArrayList<>(n);
        long row = 0;
        for (int i = 0; i < n; i++) {
            ImageSize size = batch.imageSizes().get(i);
            long rows = roiTargets.get(i).sampleRoi().size(0);
            RoIHead.Output own = new RoIHead.Output(head.roiClsLocs().narrow(0, row, rows),
                    head.roiScores().narrow(0, row, rows));
            row += rows;
            RegionProposalNetwork.Output r = rpn.get(i);
            AnchorTargetCreator.Result rpnTargets = anchorTargets.get(i);
            Losses l = imageLosses(r.rpnLocs().get(0), r.rpnScores().get(0), rpnTargets, own, roiTargets.get(i), device);
            traces.add(new Trace(l, r, roiTargets.get(i), rpnTargets, own));
        }
        return new BatchTrace(meanLosses(traces), List.copyOf(traces), batch);
    }

    /**
     * The rows of one image's dense RPN output that belong to its own {@code h x w} feature cells.
     *
     * @param x (hh*ww*A, k) or (hh*ww*A,) rows ordered (y, x, anchor) over the batch's hh x ww map
     * @return (h*w*A, k) rows ordered (y, x, anchor) over the top-left h x w cells (with autograd)
     */
    private static Tensor ownCells(Tensor x, long hh, long ww, long h, long w, int a, int k) {
        Tensor grid = x.view(hh, ww, a, k);
        if (h == hh && w == ww) return grid.view(-1, k);
        return grid.narrow(0, 0, h).narrow(1, 0, w).reshape(-1, k);
    }

    /**
     * The height and width of the feature map that the extractor gives for {@code img} alone, found by running the
     * extractor on an empty batch of its size ({@code (0, C, H, W)}: LibTorch computes the output shape without
     * arithmetic) and remembered per size.
     *
     * @param img (C, H, W)
     * @return {h, w}
     */
    private long[] featureSize(Tensor img) {
        long h = img.size(1), w = img.size(2);
        return featureSizes.computeIfAbsent(h << 32 | w, key -> {
            try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                Tensor f = fasterRcnn.extract(zeros(new long[]{0, img.size(0), h, w}, img.options()));
                return new long[]{f.size(2), f.size(3)};
            }
        });
    }

    /** Each of the four losses averaged over the images, and the total their sum (with autograd). */
    private static Losses meanLosses(List<Trace> traces) {
        Scalar n = new Scalar((double) traces.size());
        Tensor[] sums = new Tensor[4];
        for (Trace t : traces) {
            Losses l = t.losses();
            Tensor[] v = {l.rpnLocLoss(), l.rpnClsLoss(), l.roiLocLoss(), l.roiClsLoss()};
            for (int k = 0; k < 4; k++) sums[k] = sums[k] == null ? v[k] : sums[k].add(v[k]);
        }
        Tensor rpnLoc = sums[0].div(n), rpnCls = sums[1].div(n), roiLoc = sums[2].div(n), roiCls = sums[3].div(n);
        return new Losses(rpnLoc, rpnCls, roiLoc, roiCls, rpnLoc.add(rpnCls).add(roiLoc).add(roiCls));
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
        return step(() -> forward(imgs, bboxes, labels, scale));
    }

    /**
     * One optimization step on a batch of images ({@code batch_size}): as
     * {@link #trainStep(Tensor, Tensor, Tensor, double)}, with the batch's losses of {@link #traceBatch} (the mean over
     * the images of each image's losses). A batch of one image is exactly that method's step.
     *
     * @param imgs {@code N >= 1} (3, H_i, W_i) float32 preprocessed images on the model's device
     * @param bboxes per image (R_i, 4) float32 gt boxes (ymin, xmin, ymax, xmax) in pixels of the preprocessed image
     * @param labels per image (R_i,) int64 gt labels
     * @param scales per image, preprocessed size / original size
     * @return the batch's losses, detached (as {@link #trainStep(Tensor, Tensor, Tensor, double)})
     * @throws NonFiniteLossException if any of the batch's losses is NaN or infinite (nothing updated)
     * @throws IllegalArgumentException as {@link #traceBatch}
     */
    public Losses trainStep(List<Tensor> imgs, List<Tensor> bboxes, List<Tensor> labels, double[] scales) {
        return trainStep(imgs, bboxes, labels, scales, i -> {});
    }

    /**
     * As {@link #trainStep(List, List, List, double[])}, with {@code beforeImage} run before each image's random
     * choices ({@link #traceBatch(List, List, List, double[], IntConsumer)}).
     */
    public Losses trainStep(List<Tensor> imgs, List<Tensor> bboxes, List<Tensor> labels, double[] scales,
                            IntConsumer beforeImage) {
        return step(() -> traceBatch(imgs, bboxes, labels, scales, beforeImage).losses());
    }

    /**
     * Sets what runs after each step's backward and before its gradient clipping and optimizer step (on the finite
     * gradients of the step's losses): the place where data parallelism averages the gradients over processes
     * ({@link GradientAllReduce#averageGradients()}), as PyTorch's DDP does during the backward.
     *
     * @param hook run once per {@link #trainStep}, in the training thread, inside the step's {@link PointerScope};
     *     null (the default) runs nothing
     */
    public void setAfterBackward(Runnable hook) {
        this.afterBackward = hook == null ? () -> {} : hook;
    }

    private Losses step(Supplier<Losses> forward) {
        NativeHeap.iterationDone();
        PointerScope outer = PointerScope.getInnerScope();
        Tensor[] out = new Tensor[5];
        try (PointerScope scope = new PointerScope()) {
            optimizer.zeroGrad();
            Losses losses = forward.get();
            double[] v = losses.values();
            for (double x : v) {
                if (!Double.isFinite(x)) throw new NonFiniteLossException(v);
            }
            ConvolutionBackward.backward(losses.totalLoss());
            afterBackward.run();
            if (clipGradNorm > 0) clip_grad_norm_(StepTrainers.trainableParameters(fasterRcnn), clipGradNorm);
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
