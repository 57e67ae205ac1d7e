package dev.frcnn.model.rpn;

import dev.frcnn.model.utils.BboxTools;
import dev.frcnn.tensor.Autocast;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.empty;
import static org.bytedeco.pytorch.global.torch.relu;
import static org.bytedeco.pytorch.global.torch.softmax;

/**
 * Region Proposal Network; mirrors the reference's {@code model/region_proposal_network.RegionProposalNetwork}.
 *
 * <p>Layers (registered in this order, giving the keys {@code rpn.conv1.*}, {@code rpn.score.*},
 * {@code rpn.loc.*}): {@code conv1} 3x3 in to mid channels (pad 1) + ReLU, {@code score} 1x1 mid to 2A,
 * {@code loc} 1x1 mid to 4A, where A = number of base anchors (9 by default); all weights normal std 0.01,
 * biases 0. Anchors come from {@link BboxTools#generateAnchorBase} and
 * {@link BboxTools#enumerateShiftedAnchor}, index {@code (y*W + x)*A + a}.
 */
public final class RegionProposalNetwork extends Module {

    /**
     * RPN outputs for a batch of N images with an hh x ww feature map.
     *
     * @param rpnLocs (N, hh*ww*A, 4) float32 offsets (t_y, t_x, t_h, t_w), rows ordered (y, x, anchor)
     * @param rpnScores (N, hh*ww*A, 2) float32 (background, foreground) logits, same order
     * @param rpnFgScores (N, hh*ww*A) float32 softmax foreground probability (what the proposal layer ranks by)
     * @param rois (R, 4) float32 proposals (ymin, xmin, ymax, xmax) in input-image pixels, all images concatenated
     * @param roiIndices (R,) int64 image index of each RoI
     * @param anchor (hh*ww*A, 4) float32 anchors (ymin, xmin, ymax, xmax) in input-image pixels
     */
    public record Output(Tensor rpnLocs, Tensor rpnScores, Tensor rpnFgScores, Tensor rois, Tensor roiIndices,
                         Tensor anchor) {}

    private final Tensor anchorBase;
    private final int featStride;
    private final ProposalCreator proposalLayer;
    private final Conv2dImpl conv1;
    private final Conv2dImpl score;
    private final Conv2dImpl loc;
    private final int nAnchor;

    /** The reference defaults: 512 to 512 channels, ratios (0.5, 1, 2), scales (8, 16, 32), stride 16, default proposal creator. */
    public RegionProposalNetwork() {
        this(512, 512, new double[]{0.5, 1, 2}, new double[]{8, 16, 32}, 16, new ProposalCreator());
    }

    /**
     * @param inChannels channels of the input feature map
     * @param midChannels channels of the 3x3 conv
     * @param ratios anchor height/width ratios
     * @param anchorScales anchor scales (side = 16 * scale * sqrt(ratio) etc., see generate_anchor_base)
     * @param featStride input pixels per feature cell
     * @param proposalLayer turns loc/score into RoIs
     */
    public RegionProposalNetwork(int inChannels, int midChannels, double[] ratios, double[] anchorScales,
                                 int featStride, ProposalCreator proposalLayer) {
        super("RegionProposalNetwork");
        Tensor base = BboxTools.generateAnchorBase(16, ratios, anchorScales);
        this.anchorBase = base;
        this.nAnchor = (int) base.size(0);
        this.featStride = featStride;
        this.proposalLayer = proposalLayer;
        Conv2dOptions c1 = new Conv2dOptions(inChannels, midChannels, new LongPointer(3L, 3L));
        c1.padding().put(new LongPointer(1L, 1L));
        this.conv1 = register_module("conv1", new Conv2dImpl(c1));
        this.score = register_module("score",
                new Conv2dImpl(new Conv2dOptions(midChannels, nAnchor * 2L, new LongPointer(1L, 1L))));
        this.loc = register_module("loc",
                new Conv2dImpl(new Conv2dOptions(midChannels, nAnchor * 4L, new LongPointer(1L, 1L))));
        try (NoGradGuard g = new NoGradGuard()) {
            for (Conv2dImpl c : new Conv2dImpl[]{conv1, score, loc}) {
                c.weight().normal_(0.0, 0.01, new GeneratorOptional());
                c.bias().zero_();
            }
        }
    }

    /** (A, 4) float32 CPU base anchors (ymin, xmin, ymax, xmax) around the cell origin. */
    public Tensor anchorBase() { return anchorBase; }

    /** Number of anchors per feature cell (A). */
    public int nAnchor() { return nAnchor; }

    /** Input pixels per feature cell. */
    public int featStride() { return featStride; }

    /** The proposal layer. */
    public ProposalCreator proposalLayer() { return proposalLayer; }

    /**
     * The RPN's dense outputs (no proposals).
     *
     * @param rpnLocs (N, hh*ww*A, 4) float32 offsets (t_y, t_x, t_h, t_w), rows ordered (y, x, anchor)
     * @param rpnScores (N, hh*ww*A, 2) float32 (background, foreground) logits
     * @param rpnFgScores (N, hh*ww*A) float32 softmax foreground probability
     */
    public record Heads(Tensor rpnLocs, Tensor rpnScores, Tensor rpnFgScores) {}

    /**
     * Runs conv1 + ReLU, score and loc on a feature map, with the reference's
     * {@code permute(0, 2, 3, 1).contiguous().view(...)} ordering and a softmax over (bg, fg). Under bfloat16
     * autocast ({@link Autocast}) the convolutions run in bfloat16 and their outputs are cast to float32 here, so
     * the softmax, the proposals and the losses stay float32.
     *
     * @param x (N, C, hh, ww) float32 feature map (bfloat16 under autocast)
     * @return the dense outputs, float32, with autograd
     */
    public Heads heads(Tensor x) {
        long n = x.size(0), hh = x.size(2), ww = x.size(3);
        Tensor h = relu(conv1.forward(x));
        Tensor rpnLocs = Autocast.toFloat(loc.forward(h)).permute(0, 2, 3, 1).contiguous().view(n, -1, 4);
        Tensor rpnScores = Autocast.toFloat(score.forward(h)).permute(0, 2, 3, 1).contiguous();
        Tensor softmaxScores = softmax(rpnScores.view(n, hh, ww, nAnchor, 2), 4);
        Tensor rpnFgScores = softmaxScores.select(4, 1).contiguous().view(n, -1);
        return new Heads(rpnLocs, rpnScores.view(n, -1, 2), rpnFgScores);
    }

    /**
     * All anchors of an hh x ww feature map (reference {@code _enumerate_shifted_anchor(anchor_base, feat_stride, hh, ww)}).
     *
     * @param hh feature map height
     * @param ww feature map width
     * @param device where to put them
     * @return (hh*ww*A, 4) float32 anchors (ymin, xmin, ymax, xmax) in input pixels, row (y*ww + x)*A + a
     */
    public Tensor anchors(long hh, long ww, Device device) {
        return BboxTools.enumerateShiftedAnchor(anchorBase, featStride, Math.toIntExact(hh), Math.toIntExact(ww))
                .to(device, ScalarType.Float);
    }

    /**
     * Runs the RPN (reference {@code RegionProposalNetwork.forward}). The proposal layer uses its training
     * counts when this module {@link #is_training()}, else its test counts.
     *
     * @param x (N, C, hh, ww) float32 feature map
     * @param imgH height of the network input in pixels
     * @param imgW width of the network input in pixels
     * @param scale resize factor of the original image (for the proposal min-size filter)
     * @return locs/scores with autograd; rois, roi indices and anchors without
     */
    public Output forward(Tensor x, long imgH, long imgW, double scale) {
        long n = x.size(0);
        Tensor anchor = anchors(x.size(2), x.size(3), x.device());
        Heads heads = heads(x);
        Tensor rpnLocs = heads.rpnLocs();
        Tensor rpnFgScores = heads.rpnFgScores();

        TensorVector rois = new TensorVector();
        TensorVector roiIndices = new TensorVector();
        boolean training = is_training();
        for (long i = 0; i < n; i++) {
            Tensor roi = proposalLayer.apply(rpnLocs.get(i).detach(), rpnFgScores.get(i).detach(), anchor,
                    imgH, imgW, scale, training);
            rois.push_back(roi);
            TensorOptions longOnDevice = new TensorOptions(ScalarType.Long).device(new DeviceOptional(x.device()));
            roiIndices.push_back(empty(new long[]{roi.size(0)}, longOnDevice, null).fill_(new Scalar(i)));
        }
        return new Output(rpnLocs, heads.rpnScores(), rpnFgScores, cat(rois, 0), cat(roiIndices, 0), anchor);
    }
}
