package dev.frcnn.model.utils;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.clamp;
import static org.bytedeco.pytorch.global.torch.stack;

/**
 * torchvision's box coder ({@code torchvision.models.detection._utils.BoxCoder}, 0.14): encodes a box relative to a
 * reference box as weighted deltas and decodes them back.
 *
 * <p>This is torchvision's convention, not the reference's {@link BboxTools#loc2bbox}/{@link BboxTools#bbox2loc}
 * (which work on {@code (ymin, xmin, ymax, xmax)} with offsets {@code (t_y, t_x, t_h, t_w)}); both stay, each for its
 * own model family.
 * <ul>
 *   <li>A box is a row {@code (x1, y1, x2, y2)} in pixels, float32; widths are {@code x2 - x1} (no {@code +1}),
 *       centres {@code x1 + 0.5 * w}.</li>
 *   <li>Deltas are {@code (dx, dy, dw, dh)}, x first: {@code dx = wx * (gx - px) / pw}, {@code dw = ww * log(gw / pw)},
 *       likewise y/h, with the weights {@code (wx, wy, ww, wh)}: {@code (1, 1, 1, 1)} for the RPN,
 *       {@code (10, 10, 5, 5)} for the box head.</li>
 *   <li>Decoding divides by the weights and clamps {@code dw}, {@code dh} from above at {@code bboxXformClip}
 *       (default {@code log(1000 / 16)}) before {@code exp}.</li>
 *   <li>The float32 operations run in torchvision's order, so results agree with it up to the last bits of
 *       {@code exp}/{@code log}.</li>
 * </ul>
 * Immutable and thread-safe; tensors may be on any device (outputs on the inputs' device).
 */
public final class BoxCoder {
    /** torchvision's default clamp of {@code dw}, {@code dh} before {@code exp}: {@code log(1000 / 16)}. */
    public static final double DEFAULT_BBOX_XFORM_CLIP = Math.log(1000.0 / 16);

    private final double[] weights;
    private final double bboxXformClip;

    /**
     * A coder with torchvision's default clamp {@link #DEFAULT_BBOX_XFORM_CLIP}.
     *
     * @param weights {@code (wx, wy, ww, wh)}, each finite and {@code > 0}
     * @throws IllegalArgumentException if there are not 4 finite positive weights
     */
    public BoxCoder(double... weights) {
        this(weights, DEFAULT_BBOX_XFORM_CLIP);
    }

    /**
     * A coder; mirrors {@code BoxCoder(weights, bbox_xform_clip)}.
     *
     * @param weights {@code (wx, wy, ww, wh)}, each finite and {@code > 0}
     * @param bboxXformClip upper clamp of the decoded {@code dw}, {@code dh} (after dividing by the weights)
     * @throws IllegalArgumentException if there are not 4 finite positive weights or the clamp is NaN
     */
    public BoxCoder(double[] weights, double bboxXformClip) {
        if (weights == null || weights.length != 4) {
            throw new IllegalArgumentException("BoxCoder needs 4 weights (wx, wy, ww, wh), got " + Arrays.toString(weights));
        }
        for (double w : weights) {
            if (!(w > 0) || !Double.isFinite(w)) {
                throw new IllegalArgumentException("BoxCoder weights must be finite and > 0, got " + Arrays.toString(weights));
            }
        }
        if (Double.isNaN(bboxXformClip)) throw new IllegalArgumentException("bboxXformClip is NaN");
        this.weights = weights.clone();
        this.bboxXformClip = bboxXformClip;
    }

    /** @return a copy of the weights {@code (wx, wy, ww, wh)} */
    public double[] weights() {
        return weights.clone();
    }

    /** @return the clamp of {@code dw}, {@code dh} before {@code exp} */
    public double bboxXformClip() {
        return bboxXformClip;
    }

    /**
     * Encodes matched boxes relative to proposals; mirrors {@code BoxCoder.encode_single} ({@code encode_boxes}).
     *
     * <p>Per row, float32 in torchvision's order: {@code ew = px2 - px1}, {@code ecx = px1 + 0.5 * ew},
     * {@code gw = gx2 - gx1}, {@code gcx = gx1 + 0.5 * gw}, {@code dx = (wx * (gcx - ecx)) / ew},
     * {@code dw = ww * log(gw / ew)}, likewise y and h. A zero-width proposal gives an infinite or NaN delta, as in
     * torchvision.
     *
     * @param referenceBoxes (N, 4) float32 boxes to encode (the matched gt boxes) {@code (x1, y1, x2, y2)}, pixels
     * @param proposals (N, 4) float32 boxes they are encoded against (anchors or proposals), same device
     * @return (N, 4) float32 deltas {@code (dx, dy, dw, dh)} on the inputs' device; (0, 4) when N = 0
     * @throws IllegalArgumentException if a shape is not (N, 4) or the row counts differ
     */
    public Tensor encode(Tensor referenceBoxes, Tensor proposals) {
        BboxTools.requireBoxes(referenceBoxes, "referenceBoxes");
        BboxTools.requireBoxes(proposals, "proposals");
        if (referenceBoxes.size(0) != proposals.size(0)) {
            throw new IllegalArgumentException("BoxCoder.encode: referenceBoxes has " + referenceBoxes.size(0)
                    + " rows but proposals has " + proposals.size(0));
        }
        // torchvision: weights = torch.as_tensor(self.weights, dtype=reference_boxes.dtype): float32 weights.
        Scalar wx = new Scalar((double) (float) weights[0]);
        Scalar wy = new Scalar((double) (float) weights[1]);
        Scalar ww = new Scalar((double) (float) weights[2]);
        Scalar wh = new Scalar((double) (float) weights[3]);
        Tensor exWidths = col(proposals, 2).sub(col(proposals, 0));
        Tensor exHeights = col(proposals, 3).sub(col(proposals, 1));
        Tensor exCtrX = col(proposals, 0).add(exWidths.mul(half()));
        Tensor exCtrY = col(proposals, 1).add(exHeights.mul(half()));
        Tensor gtWidths = col(referenceBoxes, 2).sub(col(referenceBoxes, 0));
        Tensor gtHeights = col(referenceBoxes, 3).sub(col(referenceBoxes, 1));
        Tensor gtCtrX = col(referenceBoxes, 0).add(gtWidths.mul(half()));
        Tensor gtCtrY = col(referenceBoxes, 1).add(gtHeights.mul(half()));
        Tensor dx = gtCtrX.sub(exCtrX).mul(wx).div(exWidths);
        Tensor dy = gtCtrY.sub(exCtrY).mul(wy).div(exHeights);
        Tensor dw = gtWidths.div(exWidths).log().mul(ww);
        Tensor dh = gtHeights.div(exHeights).log().mul(wh);
        return stack(new TensorVector(dx, dy, dw, dh), 1);
    }

    /**
     * Encodes per image; mirrors {@code BoxCoder.encode(reference_boxes, proposals)}: the lists are concatenated,
     * encoded once and split back.
     *
     * @param referenceBoxes per image (N_i, 4) float32 boxes to encode
     * @param proposals per image (N_i, 4) float32 boxes they are encoded against
     * @return per image (N_i, 4) float32 deltas {@code (dx, dy, dw, dh)}
     * @throws IllegalArgumentException if the lists differ in length or a shape is wrong
     */
    public List<Tensor> encode(List<Tensor> referenceBoxes, List<Tensor> proposals) {
        if (referenceBoxes.size() != proposals.size()) {
            throw new IllegalArgumentException("BoxCoder.encode: " + referenceBoxes.size() + " images of reference boxes but "
                    + proposals.size() + " of proposals");
        }
        if (referenceBoxes.isEmpty()) return List.of();
        Tensor targets = encode(cat(new TensorVector(referenceBoxes.toArray(new Tensor[0])), 0),
                cat(new TensorVector(proposals.toArray(new Tensor[0])), 0));
        List<Tensor> out = new ArrayList<>(referenceBoxes.size());
        long start = 0;
        for (Tensor r : referenceBoxes) {
            long n = r.size(0);
            out.add(targets.narrow(0, start, n));
            start += n;
        }
        return out;
    }

    /**
     * Decodes deltas against boxes; mirrors {@code BoxCoder.decode_single}.
     *
     * <p>Float32, in torchvision's order: {@code w = x2 - x1}, {@code cx = x1 + 0.5 * w};
     * {@code dx = code / wx}, {@code dw = min(code / ww, bboxXformClip)};
     * {@code pcx = dx * w + cx}, {@code pw = exp(dw) * w}; box {@code (pcx - 0.5 * pw, pcy - 0.5 * ph,
     * pcx + 0.5 * pw, pcy + 0.5 * ph)}. The boxes are first cast to the codes' dtype.
     *
     * @param relCodes (N, 4K) float32 deltas, K groups of {@code (dx, dy, dw, dh)} per row (K classes; K = 1 for the
     *     RPN)
     * @param boxes (N, 4) boxes {@code (x1, y1, x2, y2)} in pixels, same device
     * @return (N, 4K) float32 boxes {@code (x1, y1, x2, y2)}, column group k decoded from group k
     * @throws IllegalArgumentException if {@code boxes} is not (N, 4), {@code relCodes} not (N, 4K) with K &ge; 1
     */
    public Tensor decodeSingle(Tensor relCodes, Tensor boxes) {
        BboxTools.requireBoxes(boxes, "boxes");
        if (relCodes == null || relCodes.dim() != 2 || relCodes.size(1) % 4 != 0 || relCodes.size(1) == 0) {
            throw new IllegalArgumentException("BoxCoder.decode: relCodes must be (N, 4K) with K >= 1, got "
                    + (relCodes == null ? "null" : Tensors.shapeString(relCodes)));
        }
        if (relCodes.size(0) != boxes.size(0)) {
            throw new IllegalArgumentException("BoxCoder.decode: relCodes has " + relCodes.size(0)
                    + " rows but boxes has " + boxes.size(0));
        }
        boxes = boxes.to(relCodes.scalar_type());
        Tensor widths = col(boxes, 2).sub(col(boxes, 0));
        Tensor heights = col(boxes, 3).sub(col(boxes, 1));
        Tensor ctrX = col(boxes, 0).add(widths.mul(half()));
        Tensor ctrY = col(boxes, 1).add(heights.mul(half()));

        Tensor dx = every4th(relCodes, 0).div(new Scalar(weights[0]));
        Tensor dy = every4th(relCodes, 1).div(new Scalar(weights[1]));
        Tensor dw = every4th(relCodes, 2).div(new Scalar(weights[2]));
        Tensor dh = every4th(relCodes, 3).div(new Scalar(weights[3]));
        ScalarOptional none = new ScalarOptional();
        dw = clamp(dw, none, new ScalarOptional(new Scalar(bboxXformClip)));
        dh = clamp(dh, none, new ScalarOptional(new Scalar(bboxXformClip)));

        Tensor predCtrX = dx.mul(widths.unsqueeze(1)).add(ctrX.unsqueeze(1));
        Tensor predCtrY = dy.mul(heights.unsqueeze(1)).add(ctrY.unsqueeze(1));
        Tensor predW = dw.exp().mul(widths.unsqueeze(1));
        Tensor predH = dh.exp().mul(heights.unsqueeze(1));
        Tensor cToCH = predH.mul(half());
        Tensor cToCW = predW.mul(half());
        return stack(new TensorVector(predCtrX.sub(cToCW), predCtrY.sub(cToCH), predCtrX.add(cToCW),
                predCtrY.add(cToCH)), 2).flatten(1, -1);
    }

    /**
     * Decodes deltas against boxes; mirrors {@code BoxCoder.decode(rel_codes, [boxes])}: {@link #decodeSingle}
     * reshaped to one box per (row, group).
     *
     * @param relCodes (N, 4K) float32 deltas {@code (dx, dy, dw, dh)} per group
     * @param boxes (N, 4) boxes {@code (x1, y1, x2, y2)} in pixels, same device (the concatenated boxes of all
     *     images, as torchvision's list)
     * @return (N, K, 4) float32 boxes {@code (x1, y1, x2, y2)}; (0, K, 4) when N = 0
     * @throws IllegalArgumentException as {@link #decodeSingle}
     */
    public Tensor decode(Tensor relCodes, Tensor boxes) {
        Tensor pred = decodeSingle(relCodes, boxes);
        return pred.reshape(pred.size(0), pred.size(1) / 4, 4);
    }

    @Override
    public String toString() {
        return "BoxCoder(weights=" + Arrays.toString(weights) + ", bbox_xform_clip=" + bboxXformClip + ")";
    }

    /** {@code t[:, j::4]}. */
    private static Tensor every4th(Tensor t, long j) {
        return t.slice(1, new LongOptional(j), new LongOptional(t.size(1)), 4);
    }

    private static Scalar half() {
        return new Scalar(0.5);
    }

    private static Tensor col(Tensor t, long j) {
        return t.select(1, j);
    }
}
