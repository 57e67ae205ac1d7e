package dev.frcnn.model.rpn;

import dev.frcnn.model.utils.BboxTools;
import dev.frcnn.ops.Nms;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.stack;

/**
 * Turns RPN outputs into proposal RoIs; mirrors the reference's
 * {@code model/utils/creator_tool.ProposalCreator}.
 *
 * <p>Steps (all on the inputs' device, no host round trip): decode {@code loc} against the anchors with
 * {@link BboxTools#loc2bbox}; clip y to [0, imgH] and x to [0, imgW]; drop boxes whose height or width is
 * below {@code minSize * scale} (the threshold rounded to float32, as numpy compares a float32 array with
 * a Python float); order by score descending (numpy's {@code argsort()[::-1]}: a stable ascending sort
 * reversed, so among equal scores the higher index comes first); keep the first {@code nPreNms};
 * {@link Nms#nms} at {@code nmsThresh}; keep the first {@code nPostNms}. A negative {@code nPreNms} /
 * {@code nPostNms} keeps everything, as in the reference.
 *
 * <p>Training vs test counts are chosen by the caller (the reference reads {@code parent_model.training}).
 */
public final class ProposalCreator {
    private final double nmsThresh;
    private final long nTrainPreNms;
    private final long nTrainPostNms;
    private final long nTestPreNms;
    private final long nTestPostNms;
    private final double minSize;

    /** The reference defaults: nms 0.7, train 12000/2000, test 6000/300, min size 16. */
    public ProposalCreator() {
        this(0.7, 12000, 2000, 6000, 300, 16);
    }

    /**
     * @param nmsThresh IoU threshold of the NMS (suppress when IoU &gt; this)
     * @param nTrainPreNms boxes kept before NMS in training mode
     * @param nTrainPostNms boxes kept after NMS in training mode
     * @param nTestPreNms boxes kept before NMS in test mode
     * @param nTestPostNms boxes kept after NMS in test mode
     * @param minSize minimum box height and width in original-image pixels (multiplied by {@code scale})
     */
    public ProposalCreator(double nmsThresh, long nTrainPreNms, long nTrainPostNms,
                           long nTestPreNms, long nTestPostNms, double minSize) {
        this.nmsThresh = nmsThresh;
        this.nTrainPreNms = nTrainPreNms;
        this.nTrainPostNms = nTrainPostNms;
        this.nTestPreNms = nTestPreNms;
        this.nTestPostNms = nTestPostNms;
        this.minSize = minSize;
    }

    /** IoU threshold of the NMS. */
    public double nmsThresh() { return nmsThresh; }

    /** Boxes kept before NMS in training mode. */
    public long nTrainPreNms() { return nTrainPreNms; }

    /** Boxes kept after NMS in training mode. */
    public long nTrainPostNms() { return nTrainPostNms; }

    /** Boxes kept before NMS in test mode. */
    public long nTestPreNms() { return nTestPreNms; }

    /** Boxes kept after NMS in test mode. */
    public long nTestPostNms() { return nTestPostNms; }

    /** Minimum box side in original-image pixels (times {@code scale} in input pixels). */
    public double minSize() { return minSize; }

    /**
     * Proposes RoIs for one image (reference {@code ProposalCreator.__call__}). No gradient flows.
     *
     * @param loc (R, 4) float32 predicted offsets (t_y, t_x, t_h, t_w), one row per anchor
     * @param score (R,) float32 foreground probability per anchor
     * @param anchor (R, 4) float32 anchors (ymin, xmin, ymax, xmax) in input-image pixels
     * @param imgH height of the network input in pixels (clip bound for y)
     * @param imgW width of the network input in pixels (clip bound for x)
     * @param scale resize factor applied to the original image (min size threshold = {@code minSize * scale})
     * @param training true: train-mode counts, false: test-mode counts
     * @return (S, 4) float32 RoIs (ymin, xmin, ymax, xmax) in input-image pixels on the inputs' device,
     *     S &lt;= the post-NMS count
     * @throws IllegalArgumentException if the shapes do not match
     */
    public Tensor apply(Tensor loc, Tensor score, Tensor anchor, long imgH, long imgW, double scale,
                        boolean training) {
        return propose(loc, score, anchor, imgH, imgW, scale, training).roi();
    }

    /**
     * RoIs and, for each, the index of the anchor it was decoded from.
     *
     * @param roi (S, 4) float32 RoIs as {@link #apply} returns them
     * @param anchorIndex (S,) int64 row of {@code anchor} (and {@code loc}, {@code score}) each RoI comes from
     */
    public record Proposals(Tensor roi, Tensor anchorIndex) {}

    /** {@link #apply}, also returning each RoI's source anchor index (the fixture's {@code *_anchor_index}). */
    public Proposals propose(Tensor loc, Tensor score, Tensor anchor, long imgH, long imgW, double scale,
                             boolean training) {
        if (loc.dim() != 2 || loc.size(1) != 4 || anchor.dim() != 2 || anchor.size(1) != 4
                || score.dim() != 1 || loc.size(0) != anchor.size(0) || score.size(0) != anchor.size(0)) {
            throw new IllegalArgumentException("ProposalCreator: expected loc (R,4), score (R,), anchor (R,4), got "
                    + java.util.Arrays.toString(loc.sizes().vec().get()) + ", "
                    + java.util.Arrays.toString(score.sizes().vec().get()) + ", "
                    + java.util.Arrays.toString(anchor.sizes().vec().get()));
        }
        long nPreNms = training ? nTrainPreNms : nTestPreNms;
        long nPostNms = training ? nTrainPostNms : nTestPostNms;
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor roi = BboxTools.loc2bbox(anchor.detach(), loc.detach());
            Scalar zero = new Scalar(0.0);
            Tensor y1 = clamp(roi.select(1, 0), zero, imgH);
            Tensor x1 = clamp(roi.select(1, 1), zero, imgW);
            Tensor y2 = clamp(roi.select(1, 2), zero, imgH);
            Tensor x2 = clamp(roi.select(1, 3), zero, imgW);
            roi = stack(new TensorVector(y1, x1, y2, x2), 1);

            // numpy 1.24 compares a float32 array with a Python float in float32.
            Scalar thr = new Scalar((double) (float) (minSize * scale));
            Tensor hs = y2.sub(y1);
            Tensor ws = x2.sub(x1);
            Tensor keep = hs.ge(thr).logical_and(ws.ge(thr)).nonzero().reshape(-1);
            roi = roi.index_select(0, keep);
            Tensor s = score.detach().to(ScalarType.Float).index_select(0, keep);

            // numpy: order = score.argsort()[::-1]
            Tensor order = s.argsort(true, 0, false).flip(0);
            if (nPreNms > 0 && order.size(0) > nPreNms) order = order.narrow(0, 0, nPreNms);
            roi = roi.index_select(0, order).contiguous();
            s = s.index_select(0, order).contiguous();
            Tensor source = keep.index_select(0, order);

            if (roi.size(0) == 0) return new Proposals(roi, source);
            // keep[:n_post_nms] of the greedy NMS = NMS stopped after n_post_nms kept boxes
            Tensor kept = Nms.nms(roi, s, nmsThresh, nPostNms > 0 ? nPostNms : -1);
            if (nPostNms > 0 && kept.size(0) > nPostNms) kept = kept.narrow(0, 0, nPostNms);
            return new Proposals(roi.index_select(0, kept), source.index_select(0, kept));
        }
    }

    private static Tensor clamp(Tensor t, Scalar lo, long hi) {
        return t.clamp(new ScalarOptional(lo), new ScalarOptional(new Scalar((double) hi)));
    }
}
