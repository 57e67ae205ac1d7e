package dev.frcnn.train;

import dev.frcnn.model.roi.LocNormalization;
import dev.frcnn.model.utils.BboxTools;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Arrays;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.cat;

/**
 * Samples RoIs and assigns them ground-truth targets to train the RoI head; mirrors the reference's
 * {@code model/utils/creator_tool.ProposalTargetCreator}.
 *
 * <p>Steps: append the gt boxes to the RoIs (candidate index = row of {@code cat(roi, bbox)}); float32
 * IoU of every candidate with every gt box; {@code gt_assignment} = first argmax over gt, {@code max_iou}
 * its value. Positives: {@code max_iou >= posIouThresh}, keep {@code min(round(nSample*posRatio), #pos)}
 * of them. Negatives: {@code negIouThreshLo <= max_iou < negIouThreshHi}, keep
 * {@code min(nSample - n_pos, #neg)}. The {@link Sampler} decides which are kept. {@code keep_index} =
 * kept positives then kept negatives. Label = {@code label[gt_assignment] + 1} for positives, 0 for
 * negatives; loc = {@code (bbox2loc(sample_roi, bbox[gt_assignment]) - mean) / std} in float32.
 *
 * <p>All work is tensor ops on the inputs' device; only the candidate counts are read back to the host.
 */
public final class ProposalTargetCreator {
    private final int nSample;
    private final double posRatio;
    private final double posIouThresh;
    private final double negIouThreshHi;
    private final double negIouThreshLo;
    private final float[] locMean;
    private final float[] locStd;
    private final Sampler sampler;

    /**
     * Sampled RoIs and their targets.
     *
     * @param sampleRoi (S, 4) float32 sampled RoIs {@code (ymin, xmin, ymax, xmax)} in input-image pixels,
     *                  positives first; {@code S <= nSample}
     * @param gtRoiLoc (S, 4) float32 normalised offsets {@code (t_y, t_x, t_h, t_w)} to the assigned gt box
     * @param gtRoiLabel (S,) int64: 0 background, {@code c + 1} for foreground class {@code c}
     */
    public record Result(Tensor sampleRoi, Tensor gtRoiLoc, Tensor gtRoiLabel) {}

    /**
     * The result plus the reference's intermediates (C = R + K candidates).
     *
     * @param keepIndex (S,) int64 candidate rows kept, positives then negatives
     * @param gtAssignment (C,) int64 gt index with the highest IoU per candidate (first maximum)
     * @param maxIou (C,) float32 that IoU
     * @param result the final targets
     */
    public record Trace(Tensor keepIndex, Tensor gtAssignment, Tensor maxIou, Result result) {}

    /**
     * The reference's defaults: nSample 128, posRatio 0.25, posIouThresh 0.5, negIouThreshHi 0.5,
     * negIouThreshLo 0.0, {@link LocNormalization#REFERENCE}, {@link Sampler#firstN()}.
     */
    public ProposalTargetCreator() {
        this(128, 0.25, 0.5, 0.5, 0.0, LocNormalization.REFERENCE, Sampler.firstN());
    }

    /**
     * A creator for a model's loc normalisation.
     *
     * @param nSample number of RoIs to sample, {@code > 0}
     * @param posRatio target fraction of positives, in [0, 1]
     * @param posIouThresh candidates with max IoU {@code >=} this are positive
     * @param negIouThreshHi candidates with max IoU {@code <} this ...
     * @param negIouThreshLo ... and {@code >=} this are negative
     * @param locNormalization the offsets' normalisation ({@code FasterRCNN#locNormalization()})
     * @param sampler chooses which candidates to keep when there are too many
     * @throws IllegalArgumentException if {@code nSample <= 0} or {@code posRatio} is outside [0, 1]
     */
    public ProposalTargetCreator(int nSample, double posRatio, double posIouThresh, double negIouThreshHi,
                                 double negIouThreshLo, LocNormalization locNormalization, Sampler sampler) {
        this(nSample, posRatio, posIouThresh, negIouThreshHi, negIouThreshLo, toDoubles(locNormalization.mean()),
                toDoubles(locNormalization.std()), sampler);
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /**
     * A creator with explicit parameters.
     *
     * @param nSample number of RoIs to sample, {@code > 0}
     * @param posRatio target fraction of positives, in [0, 1]
     * @param posIouThresh candidates with max IoU {@code >=} this are positive
     * @param negIouThreshHi candidates with max IoU {@code <} this ...
     * @param negIouThreshLo ... and {@code >=} this are negative
     * @param locNormalizeMean 4 values subtracted from the offsets (rounded to float32)
     * @param locNormalizeStd 4 values the offsets are divided by (rounded to float32)
     * @param sampler chooses which candidates to keep when there are too many
     * @throws IllegalArgumentException if {@code nSample <= 0}, {@code posRatio} is outside [0, 1] or
     *         mean/std do not have 4 elements
     * @throws NullPointerException if an argument is null
     */
    public ProposalTargetCreator(int nSample, double posRatio, double posIouThresh, double negIouThreshHi,
                                 double negIouThreshLo, double[] locNormalizeMean, double[] locNormalizeStd,
                                 Sampler sampler) {
        if (nSample <= 0) throw new IllegalArgumentException("nSample must be > 0: " + nSample);
        if (!(posRatio >= 0 && posRatio <= 1)) throw new IllegalArgumentException("posRatio must be in [0,1]: " + posRatio);
        if (locNormalizeMean.length != 4 || locNormalizeStd.length != 4) {
            throw new IllegalArgumentException("loc mean/std need 4 values: " + Arrays.toString(locNormalizeMean)
                    + ", " + Arrays.toString(locNormalizeStd));
        }
        this.nSample = nSample;
        this.posRatio = posRatio;
        this.posIouThresh = posIouThresh;
        this.negIouThreshHi = negIouThreshHi;
        this.negIouThreshLo = negIouThreshLo;
        this.locMean = new float[4];
        this.locStd = new float[4];
        for (int i = 0; i < 4; i++) {
            locMean[i] = (float) locNormalizeMean[i];
            locStd[i] = (float) locNormalizeStd[i];
        }
        this.sampler = Objects.requireNonNull(sampler, "sampler");
    }

    /**
     * Samples RoIs and computes their targets; mirrors {@code ProposalTargetCreator.__call__(roi, bbox, label)}.
     *
     * @param roi (R, 4) float32 proposals {@code (ymin, xmin, ymax, xmax)} in input-image pixels (R may be 0)
     * @param bbox (K, 4) float32 gt boxes, same layout, units and device, K {@code >= 1}
     * @param label (K,) integer gt labels, 0-based foreground classes
     * @return sampleRoi (S, 4), gtRoiLoc (S, 4) float32 and gtRoiLabel (S,) int64 on the RoIs' device
     * @throws IllegalArgumentException if there is no gt box (the reference fails on an empty gt set too),
     *         or a shape is wrong
     */
    public Result call(Tensor roi, Tensor bbox, Tensor label) {
        return trace(roi, bbox, label).result();
    }

    /**
     * As {@link #call}, also returning the intermediates (for tests and diagnostics).
     *
     * @param roi (R, 4) float32 proposals {@code (ymin, xmin, ymax, xmax)} in pixels (R may be 0)
     * @param bbox (K, 4) float32 gt boxes, same layout, units and device, K {@code >= 1}
     * @param label (K,) integer gt labels, 0-based foreground classes
     * @return the result and the intermediates, on the RoIs' device
     * @throws IllegalArgumentException as {@link #call}
     */
    public Trace trace(Tensor roi, Tensor bbox, Tensor label) {
        BboxTools.requireBoxes(roi, "roi");
        BboxTools.requireBoxes(bbox, "bbox");
        if (bbox.size(0) == 0) throw new IllegalArgumentException("ProposalTargetCreator needs at least one gt box");
        if (label == null || label.dim() != 1 || label.size(0) != bbox.size(0)) {
            throw new IllegalArgumentException("label must be (K,) with K = " + bbox.size(0) + " gt boxes, got "
                    + (label == null ? "null" : Tensors.shapeString(label)));
        }
        bbox = bbox.to(roi.device(), roi.scalar_type());
        label = label.to(roi.device(), ScalarType.Long);

        Tensor cand = cat(new TensorVector(roi, bbox), 0);
        long posPerImage = (long) Math.rint(nSample * posRatio);        // np.round: half to even
        Tensor iou = BboxTools.bboxIou(cand, bbox);                     // (C, K)
        T_TensorTensor_T mx = iou.max(1);
        Tensor maxIou = mx.get0();
        Tensor gtAssignment = mx.get1();
        Tensor gtRoiLabelAll = label.index_select(0, gtAssignment).add(new Scalar(1L));

        Tensor posIndex = maxIou.ge(new Scalar(f32(posIouThresh))).nonzero().select(1, 0);
        long nPos = Math.min(posPerImage, posIndex.size(0));
        Tensor keepPos = sampler.choose(posIndex, nPos);
        Tensor negIndex = maxIou.lt(new Scalar(f32(negIouThreshHi)))
                .logical_and(maxIou.ge(new Scalar(f32(negIouThreshLo)))).nonzero().select(1, 0);
        long nNeg = Math.min(nSample - nPos, negIndex.size(0));
        Tensor keepNeg = sampler.choose(negIndex, nNeg);
        Tensor keepIndex = cat(new TensorVector(keepPos, keepNeg), 0);

        Tensor gtRoiLabel = gtRoiLabelAll.index_select(0, keepIndex);
        gtRoiLabel.narrow(0, nPos, gtRoiLabel.size(0) - nPos).zero_();
        Tensor sampleRoi = cand.index_select(0, keepIndex);
        Tensor loc = BboxTools.bbox2loc(sampleRoi, bbox.index_select(0, gtAssignment.index_select(0, keepIndex)));
        Tensor mean = Tensors.fromFloats(locMean, 4).to(loc.device(), loc.scalar_type());
        Tensor std = Tensors.fromFloats(locStd, 4).to(loc.device(), loc.scalar_type());
        Tensor gtRoiLoc = loc.sub(mean).div(std);
        return new Trace(keepIndex, gtAssignment, maxIou, new Result(sampleRoi, gtRoiLoc, gtRoiLabel));
    }

    /** A threshold rounded to float32, as numpy 1.24 does when comparing a float32 array with a Python float. */
    private static double f32(double v) {
        return (float) v;
    }

    @Override
    public String toString() {
        return "ProposalTargetCreator[nSample=" + nSample + ", posRatio=" + posRatio + ", posIouThresh="
                + posIouThresh + ", negIouThresh=[" + negIouThreshLo + ", " + negIouThreshHi + "), mean="
                + Arrays.toString(locMean) + ", std=" + Arrays.toString(locStd) + ", sampler=" + sampler + "]";
    }
}
