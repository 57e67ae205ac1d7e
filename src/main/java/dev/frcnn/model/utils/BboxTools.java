package dev.frcnn.model.utils;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.arange;
import static org.bytedeco.pytorch.global.torch.maximum;
import static org.bytedeco.pytorch.global.torch.minimum;
import static org.bytedeco.pytorch.global.torch.stack;

/**
 * Box utilities of the reference's {@code model/utils/bbox_tools.py} (plus
 * {@code model/region_proposal_network._enumerate_shifted_anchor}), as LibTorch tensor ops.
 *
 * <p>Conventions (all methods):
 * <ul>
 *   <li>A box is a row {@code (ymin, xmin, ymax, xmax)} in pixels of the network input image, with no
 *       {@code +1} in widths, heights or areas.</li>
 *   <li>A loc (box offset) is a row {@code (t_y, t_x, t_h, t_w)}: centre shifts relative to the source
 *       box's size and log size ratios.</li>
 *   <li>Inputs are float32 tensors on any device; results are float32 on the inputs' device. The float32
 *       operations run in the same order as the reference's numpy code, so results match it bit for bit
 *       except where {@code exp}/{@code log} implementations differ (a few ulp).</li>
 *   <li>Empty inputs (zero rows) give empty outputs of the documented shape.</li>
 * </ul>
 */
public final class BboxTools {
    /** float32 machine epsilon {@code 2^-23} ({@code numpy.finfo(np.float32).eps}), the bbox2loc clamp. */
    public static final double FLOAT32_EPS = Math.ulp(1.0f);

    private BboxTools() {}

    /**
     * Base anchors centred on the first feature cell; mirrors {@code bbox_tools.generate_anchor_base}.
     *
     * <p>Row {@code i * anchorScales.length + j} uses {@code ratios[i]} and {@code anchorScales[j]}:
     * {@code h = baseSize * scale * sqrt(ratio)}, {@code w = baseSize * scale * sqrt(1 / ratio)}, centred at
     * {@code (baseSize / 2, baseSize / 2)}. As in the reference, the corners are computed in double and
     * rounded once to float32.
     *
     * @param baseSize side of the reference cell in pixels (the reference's default is 16)
     * @param ratios height/width ratios (default {@code 0.5, 1, 2}), each {@code > 0}
     * @param anchorScales anchor side multipliers of {@code baseSize} (default {@code 8, 16, 32})
     * @return (A, 4) float32 CPU tensor, {@code A = ratios.length * anchorScales.length}, boxes
     *         {@code (ymin, xmin, ymax, xmax)} in pixels
     * @throws IllegalArgumentException if a ratio is not positive or an array is null
     */
    public static Tensor generateAnchorBase(double baseSize, double[] ratios, double[] anchorScales) {
        if (ratios == null || anchorScales == null) {
            throw new IllegalArgumentException("ratios and anchorScales must not be null");
        }
        double py = baseSize / 2.0;
        double px = baseSize / 2.0;
        int a = ratios.length * anchorScales.length;
        float[] base = new float[a * 4];
        for (int i = 0; i < ratios.length; i++) {
            if (!(ratios[i] > 0)) throw new IllegalArgumentException("ratio must be > 0: " + ratios[i]);
            for (int j = 0; j < anchorScales.length; j++) {
                // Python: base_size * anchor_scales[j] * np.sqrt(ratios[i]), left to right, in float64.
                double h = baseSize * anchorScales[j] * Math.sqrt(ratios[i]);
                double w = baseSize * anchorScales[j] * Math.sqrt(1.0 / ratios[i]);
                int index = i * anchorScales.length + j;
                base[index * 4] = (float) (py - h / 2.0);
                base[index * 4 + 1] = (float) (px - w / 2.0);
                base[index * 4 + 2] = (float) (py + h / 2.0);
                base[index * 4 + 3] = (float) (px + w / 2.0);
            }
        }
        return Tensors.fromFloats(base, a, 4);
    }

    /**
     * All anchors of a feature map; mirrors {@code region_proposal_network._enumerate_shifted_anchor}.
     *
     * <p>{@code anchors[(y * width + x) * A + a] = anchorBase[a] + (y*s, x*s, y*s, x*s)} with
     * {@code s = featStride}. As in numpy (float32 + int64 promotes to float64), the sum is formed in double
     * and rounded once to float32.
     *
     * @param anchorBase (A, 4) float32 base anchors, e.g. from {@link #generateAnchorBase}; any device
     * @param featStride pixels per feature cell (16 for VGG16)
     * @param height feature map height H (cells), {@code >= 0}
     * @param width feature map width W (cells), {@code >= 0}
     * @return (H*W*A, 4) float32 on {@code anchorBase}'s device, boxes {@code (ymin, xmin, ymax, xmax)} in pixels
     * @throws IllegalArgumentException if {@code anchorBase} is not (A, 4) or a size is negative
     */
    public static Tensor enumerateShiftedAnchor(Tensor anchorBase, int featStride, int height, int width) {
        requireBoxes(anchorBase, "anchorBase");
        if (height < 0 || width < 0) {
            throw new IllegalArgumentException("negative feature map size " + height + "x" + width);
        }
        TensorOptions longOpts = options(anchorBase, ScalarType.Long);
        Tensor shiftY = arange(new Scalar(height), longOpts).mul(new Scalar((long) featStride));
        Tensor shiftX = arange(new Scalar(width), longOpts).mul(new Scalar((long) featStride));
        // meshgrid(shift_x, shift_y) raveled: row k = y*W + x.
        Tensor sy = shiftY.view(height, 1).expand(height, width).reshape(-1);
        Tensor sx = shiftX.view(1, width).expand(height, width).reshape(-1);
        Tensor shift = stack(new TensorVector(sy, sx, sy, sx), 1);                 // (K, 4) int64
        long a = anchorBase.size(0);
        long k = shift.size(0);
        Tensor anchor = anchorBase.to(ScalarType.Double).view(1, a, 4)
                .add(shift.to(ScalarType.Double).view(k, 1, 4));                   // (K, A, 4) float64
        return anchor.reshape(k * a, 4).to(ScalarType.Float).contiguous();
    }

    /**
     * Decodes offsets into boxes; mirrors {@code bbox_tools.loc2bbox}.
     *
     * <p>With {@code h = ymax - ymin}, {@code cy = ymin + 0.5*h} of the source box (likewise x):
     * {@code cy' = t_y*h + cy}, {@code h' = exp(t_h)*h}, output {@code (cy' - 0.5*h', cx' - 0.5*w',
     * cy' + 0.5*h', cx' + 0.5*w')}, all in float32 in this order.
     *
     * @param srcBbox (R, 4) float32 source boxes {@code (ymin, xmin, ymax, xmax)} in pixels
     * @param loc (R, 4) float32 offsets {@code (t_y, t_x, t_h, t_w)}, same device
     * @return (R, 4) float32 decoded boxes {@code (ymin, xmin, ymax, xmax)} in pixels; (0, 4) when R = 0
     * @throws IllegalArgumentException if a shape is not (R, 4) or the row counts differ
     */
    public static Tensor loc2bbox(Tensor srcBbox, Tensor loc) {
        requireBoxes(srcBbox, "srcBbox");
        requireBoxes(loc, "loc");
        requireSameRows(srcBbox, loc, "srcBbox", "loc");
        if (srcBbox.size(0) == 0) {
            return loc.new_zeros(new long[]{0, 4}, options(loc, loc.scalar_type()));
        }
        Tensor srcH = col(srcBbox, 2).sub(col(srcBbox, 0));
        Tensor srcW = col(srcBbox, 3).sub(col(srcBbox, 1));
        Tensor srcCy = col(srcBbox, 0).add(srcH.mul(half()));
        Tensor srcCx = col(srcBbox, 1).add(srcW.mul(half()));
        Tensor cy = col(loc, 0).mul(srcH).add(srcCy);
        Tensor cx = col(loc, 1).mul(srcW).add(srcCx);
        Tensor h = col(loc, 2).exp().mul(srcH);
        Tensor w = col(loc, 3).exp().mul(srcW);
        Tensor hh = h.mul(half());
        Tensor hw = w.mul(half());
        return stack(new TensorVector(cy.sub(hh), cx.sub(hw), cy.add(hh), cx.add(hw)), 1);
    }

    /**
     * Encodes {@code dst} relative to {@code src}; mirrors {@code bbox_tools.bbox2loc}.
     *
     * <p>{@code t_y = (cy_dst - cy_src) / h_src}, {@code t_h = log(h_dst / h_src)} (likewise x, w), where the
     * source height and width are first clamped below by {@link #FLOAT32_EPS} (the reference's
     * {@code np.finfo(float32).eps}), so zero-size source boxes give finite offsets. All float32.
     *
     * @param srcBbox (R, 4) float32 source boxes {@code (ymin, xmin, ymax, xmax)} in pixels
     * @param dstBbox (R, 4) float32 target boxes, same layout and device
     * @return (R, 4) float32 offsets {@code (t_y, t_x, t_h, t_w)}; (0, 4) when R = 0
     * @throws IllegalArgumentException if a shape is not (R, 4) or the row counts differ
     */
    public static Tensor bbox2loc(Tensor srcBbox, Tensor dstBbox) {
        requireBoxes(srcBbox, "srcBbox");
        requireBoxes(dstBbox, "dstBbox");
        requireSameRows(srcBbox, dstBbox, "srcBbox", "dstBbox");
        Tensor height = col(srcBbox, 2).sub(col(srcBbox, 0));
        Tensor width = col(srcBbox, 3).sub(col(srcBbox, 1));
        Tensor ctrY = col(srcBbox, 0).add(height.mul(half()));
        Tensor ctrX = col(srcBbox, 1).add(width.mul(half()));
        Tensor baseH = col(dstBbox, 2).sub(col(dstBbox, 0));
        Tensor baseW = col(dstBbox, 3).sub(col(dstBbox, 1));
        Tensor baseCy = col(dstBbox, 0).add(baseH.mul(half()));
        Tensor baseCx = col(dstBbox, 1).add(baseW.mul(half()));
        // np.maximum(x, eps); eps is exactly representable in float32.
        Tensor eps = height.new_full(new long[]{}, new Scalar(FLOAT32_EPS), options(height, height.scalar_type()));
        height = maximum(height, eps);
        width = maximum(width, eps);
        Tensor dy = baseCy.sub(ctrY).div(height);
        Tensor dx = baseCx.sub(ctrX).div(width);
        Tensor dh = baseH.div(height).log();
        Tensor dw = baseW.div(width).log();
        return stack(new TensorVector(dy, dx, dh, dw), 1);
    }

    /**
     * Pairwise intersection over union; mirrors {@code bbox_tools.bbox_iou}.
     *
     * <p>Float32, in the reference's order: {@code tl = max(a_tl, b_tl)}, {@code br = min(a_br, b_br)},
     * {@code inter = (br_y - tl_y) * (br_x - tl_x) * [tl < br on both axes]},
     * {@code iou = inter / ((area_a + area_b) - inter)}. Disjoint boxes can give {@code -0.0}; two
     * zero-area disjoint boxes give NaN (0/0), as in the reference.
     *
     * @param bboxA (N, 4) float32 boxes {@code (ymin, xmin, ymax, xmax)} in pixels
     * @param bboxB (K, 4) float32 boxes, same layout and device
     * @return (N, K) float32 IoUs (an empty tensor of that shape if N or K is 0)
     * @throws IllegalArgumentException if a shape is not (., 4)
     */
    public static Tensor bboxIou(Tensor bboxA, Tensor bboxB) {
        requireBoxes(bboxA, "bboxA");
        requireBoxes(bboxB, "bboxB");
        Tensor aTl = bboxA.narrow(1, 0, 2).unsqueeze(1);   // (N, 1, 2)
        Tensor aBr = bboxA.narrow(1, 2, 2).unsqueeze(1);
        Tensor bTl = bboxB.narrow(1, 0, 2).unsqueeze(0);   // (1, K, 2)
        Tensor bBr = bboxB.narrow(1, 2, 2).unsqueeze(0);
        Tensor tl = maximum(aTl, bTl);                      // (N, K, 2)
        Tensor br = minimum(aBr, bBr);
        Tensor d = br.sub(tl);
        Tensor valid = tl.lt(br).all(2).to(d.scalar_type());
        Tensor areaI = d.select(2, 0).mul(d.select(2, 1)).mul(valid);
        Tensor areaA = col(bboxA, 2).sub(col(bboxA, 0)).mul(col(bboxA, 3).sub(col(bboxA, 1)));
        Tensor areaB = col(bboxB, 2).sub(col(bboxB, 0)).mul(col(bboxB, 3).sub(col(bboxB, 1)));
        return areaI.div(areaA.unsqueeze(1).add(areaB.unsqueeze(0)).sub(areaI));
    }

    private static Scalar half() {
        return new Scalar(0.5);
    }

    /** Column j of an (R, 4) tensor as an (R,) view. */
    private static Tensor col(Tensor t, long j) {
        return t.select(1, j);
    }

    /**
     * Checks that {@code t} is an (R, 4) box tensor.
     *
     * @param t the tensor
     * @param name its name, for the message
     * @throws IllegalArgumentException if it is not 2-D with 4 columns
     */
    public static void requireBoxes(Tensor t, String name) {
        if (t == null || t.isNull() || !t.defined()) throw new IllegalArgumentException(name + " is null/undefined");
        if (t.dim() != 2 || t.size(1) != 4) {
            throw new IllegalArgumentException(name + " must be (R, 4), got " + Tensors.shapeString(t));
        }
    }

    private static void requireSameRows(Tensor a, Tensor b, String na, String nb) {
        if (a.size(0) != b.size(0)) {
            throw new IllegalArgumentException(na + " has " + a.size(0) + " rows but " + nb + " has " + b.size(0));
        }
    }

    /** Options for a new tensor of dtype {@code st} on {@code like}'s device. */
    public static TensorOptions options(Tensor like, ScalarType st) {
        return new TensorOptions(like.device()).dtype(new ScalarTypeOptional(st));
    }
}
