package dev.frcnn.ops;

import dev.frcnn.ops.nativeops.RoIAlignNative;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Arrays;

import static org.bytedeco.pytorch.global.torch.arange;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.embedding_bag;

/**
 * RoI bilinear pooling with {@code torchvision.ops.roi_align(input, rois, (pooledH, pooledW), spatialScale,
 * samplingRatio, aligned)} semantics (torchvision 0.14 kernels), differentiable with respect to the input.
 *
 * <p>Per roi, all float32 as torchvision: {@code offset = aligned ? 0.5 : 0}, {@code start = coord * spatialScale -
 * offset}, {@code roi_w = end_w - start_w} (at least 1 when not aligned), bin size {@code roi_h / pooledH}; each bin
 * averages {@code grid_h x grid_w} bilinear samples, {@code grid_h = samplingRatio > 0 ? samplingRatio :
 * ceil(roi_h / pooledH)} (adaptive). A sample beyond {@code [-1, H] x [-1, W]} contributes 0 but still counts; inside,
 * coordinates are clamped to the map. Nothing is rounded (unlike {@link RoIPool}). See
 * {@code native/include/frcnn_ops.h} for the exact arithmetic.
 *
 * <p>Two paths, chosen per call:
 * <ul>
 *   <li>no autograd needed (grad mode off, or the input does not require grad): the native kernel
 *       ({@code frcnn_roi_align_forward_*}), bit-identical to torchvision's CPU kernel;</li>
 *   <li>autograd needed: JavaCPP cannot define custom autograd functions, so the op is rebuilt from differentiable
 *       LibTorch ops. The native code lists, per output cell, the 4 corner rows and bilinear weights of every sample
 *       ({@code frcnn_roi_align_weights_*}); the output is {@code embedding_bag(rows, index, cellOffsets,
 *       mode=sum, per_sample_weights=weight) / max(grid_h * grid_w, 1)} with {@code rows} = the input as
 *       (N*H*W, C) plus one zero row for out-of-range samples. The bag's backward scatter-adds {@code g * w / count}
 *       to the same corners as torchvision's backward; values agree with torchvision up to float32 summation
 *       order (about 1e-7 relative).</li>
 * </ul>
 * Tensors created here belong to the caller's {@link org.bytedeco.javacpp.PointerScope}.
 */
public final class RoIAlign {
    private final int pooledH;
    private final int pooledW;
    private final float spatialScale;
    private final int samplingRatio;
    private final boolean aligned;

    /**
     * @param pooledH output height (14 for the ResNet C4 head, 7 for VGG16), {@code > 0}
     * @param pooledW output width, {@code > 0}
     * @param spatialScale feature/image ratio (1/16), rounded to float32 as torchvision does
     * @param samplingRatio samples per bin along each axis; {@code <= 0} = adaptive ({@code ceil(roi / pooled)})
     * @param aligned torchvision's {@code aligned}: shift the box by -0.5 feature cells (pixel-centre model)
     * @throws IllegalArgumentException for non-positive sizes or a non-finite scale
     */
    public RoIAlign(int pooledH, int pooledW, double spatialScale, int samplingRatio, boolean aligned) {
        OpSupport.requirePooledSize(pooledH, pooledW);
        this.pooledH = pooledH;
        this.pooledW = pooledW;
        this.spatialScale = OpSupport.float32Scale(spatialScale);
        this.samplingRatio = samplingRatio;
        this.aligned = aligned;
    }

    /** Output height. */
    public int pooledH() { return pooledH; }

    /** Output width. */
    public int pooledW() { return pooledW; }

    /** Feature/image scale as float32. */
    public float spatialScale() { return spatialScale; }

    /** Samples per bin and axis ({@code <= 0}: adaptive). */
    public int samplingRatio() { return samplingRatio; }

    /** Whether the half-pixel offset is applied. */
    public boolean aligned() { return aligned; }

    /**
     * {@code torchvision.ops.roi_align}.
     *
     * @param input (N, C, H, W) float32 feature map (CPU or CUDA; non-contiguous input is made contiguous)
     * @param indicesAndRoisXY (R, 5) float32 rows (batch_index, x1, y1, x2, y2) in input-image pixels (x first), on
     *     the input's device
     * @return (R, C, pooledH, pooledW) float32 on the input's device; autograd flows to {@code input}
     * @throws IllegalArgumentException for a wrong dtype (not float32), a wrong shape, tensors on different devices,
     *     a batch index that is not an integer in [0, N), or non-finite roi coordinates
     * @throws UnsupportedOperationException for CUDA tensors when the native library has no CUDA support or no device
     */
    public Tensor forward(Tensor input, Tensor indicesAndRoisXY) {
        checkInputs(input, indicesAndRoisXY);
        if (!input.requires_grad() || !GradMode.is_enabled()) return forwardNative(input, indicesAndRoisXY);
        return forwardDifferentiable(input, indicesAndRoisXY);
    }

    /**
     * The native forward without autograd (bit-identical to torchvision's CPU kernel on the CPU; the CUDA kernel
     * equals the CPU kernel).
     *
     * @param input (N, C, H, W) float32
     * @param indicesAndRoisXY (R, 5) float32 rows (batch_index, x1, y1, x2, y2)
     * @return (R, C, pooledH, pooledW) float32 on the input's device, no autograd history
     * @throws IllegalArgumentException as {@link #forward}
     */
    public Tensor forwardNative(Tensor input, Tensor indicesAndRoisXY) {
        checkInputs(input, indicesAndRoisXY);
        boolean cuda = OpSupport.isCuda(input, "input");
        long n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
        long r = indicesAndRoisXY.size(0);
        Tensor x = input.detach().contiguous();
        Tensor rois = indicesAndRoisXY.detach().contiguous();
        Tensor out = x.new_empty(new long[]{r, c, pooledH, pooledW}, new TensorOptions(ScalarType.Float));
        if (out.numel() == 0) return out;
        RoIAlignNative lib = RoIAlignNative.get();
        if (cuda) {
            lib.forwardCuda(OpSupport.seg(x), n, c, h, w, OpSupport.seg(rois), r, spatialScale, pooledH, pooledW,
                    samplingRatio, aligned, OpSupport.seg(out), OpSupport.stream(x));
        } else {
            lib.forwardCpu(OpSupport.seg(x), n, c, h, w, OpSupport.seg(rois), r, spatialScale, pooledH, pooledW,
                    samplingRatio, aligned, OpSupport.seg(out));
        }
        return out;
    }

    /**
     * The sampling grid of every roi (torchvision's {@code roi_bin_grid_h}, {@code roi_bin_grid_w}).
     *
     * @param indicesAndRoisXY (R, 5) float32 rows (batch_index, x1, y1, x2, y2)
     * @param batch the feature map's batch size N (batch indices must be integers in [0, N))
     * @return (R, 2) int64 (grid_h, grid_w) on the rois' device; values {@code <= 0} mean "no samples"
     * @throws IllegalArgumentException for a wrong dtype/shape or an invalid roi
     */
    public Tensor grid(Tensor indicesAndRoisXY, long batch) {
        OpSupport.requireDefined(indicesAndRoisXY, "indicesAndRoisXY");
        checkRois(indicesAndRoisXY);
        boolean cuda = OpSupport.isCuda(indicesAndRoisXY, "indicesAndRoisXY");
        Tensor rois = indicesAndRoisXY.detach().contiguous();
        long r = rois.size(0);
        Tensor grid = rois.new_empty(new long[]{r, 2}, new TensorOptions(ScalarType.Long));
        if (r == 0) return grid;
        RoIAlignNative lib = RoIAlignNative.get();
        if (cuda) {
            lib.gridCuda(OpSupport.seg(rois), r, batch, spatialScale, pooledH, pooledW, samplingRatio, aligned,
                    OpSupport.seg(grid), OpSupport.stream(rois));
        } else {
            lib.gridCpu(OpSupport.seg(rois), r, batch, spatialScale, pooledH, pooledW, samplingRatio, aligned,
                    OpSupport.seg(grid));
        }
        return grid;
    }

    /**
     * The native backward ({@code torchvision}'s {@code _roi_align_backward}): for every (roi, channel, ph, pw) and
     * in-range sample, {@code (g * w_k) / (grid_h * grid_w)} is added to the sample's 4 corners, in torchvision's
     * order on the CPU (atomicAdd on CUDA).
     *
     * @param gradOutput (R, C, pooledH, pooledW) float32
     * @param indicesAndRoisXY (R, 5) float32 rows (batch_index, x1, y1, x2, y2) of the forward
     * @param inputShape (N, C, H, W) of the forward's input
     * @return (N, C, H, W) float32 on gradOutput's device
     * @throws IllegalArgumentException for wrong dtypes/shapes/devices or an invalid roi
     */
    public Tensor backward(Tensor gradOutput, Tensor indicesAndRoisXY, long[] inputShape) {
        OpSupport.requireDefined(gradOutput, "gradOutput");
        OpSupport.requireDefined(indicesAndRoisXY, "indicesAndRoisXY");
        if (inputShape == null || inputShape.length != 4 || Arrays.stream(inputShape).anyMatch(v -> v < 0)) {
            throw new IllegalArgumentException("inputShape must be (N, C, H, W), got " + Arrays.toString(inputShape));
        }
        OpSupport.requireFloat(gradOutput, "gradOutput");
        checkRois(indicesAndRoisXY);
        long r = indicesAndRoisXY.size(0), c = inputShape[1];
        long[] want = {r, c, pooledH, pooledW};
        if (!Arrays.equals(Tensors.shape(gradOutput), want)) {
            throw new IllegalArgumentException("gradOutput must have shape " + Arrays.toString(want) + ", got "
                    + Tensors.shapeString(gradOutput));
        }
        OpSupport.requireSameDevice(gradOutput, "gradOutput", indicesAndRoisXY, "indicesAndRoisXY");
        boolean cuda = OpSupport.isCuda(gradOutput, "gradOutput");
        Tensor go = gradOutput.detach().contiguous();
        Tensor rois = indicesAndRoisXY.detach().contiguous();
        Tensor gi = go.new_empty(inputShape, new TensorOptions(ScalarType.Float));
        RoIAlignNative lib = RoIAlignNative.get();
        if (cuda) {
            lib.backwardCuda(OpSupport.seg(go), OpSupport.seg(rois), r, inputShape[0], c, inputShape[2], inputShape[3],
                    spatialScale, pooledH, pooledW, samplingRatio, aligned, OpSupport.seg(gi), OpSupport.stream(go));
        } else {
            lib.backwardCpu(OpSupport.seg(go), OpSupport.seg(rois), r, inputShape[0], c, inputShape[2], inputShape[3],
                    spatialScale, pooledH, pooledW, samplingRatio, aligned, OpSupport.seg(gi));
        }
        return gi;
    }

    private Tensor forwardDifferentiable(Tensor input, Tensor indicesAndRoisXY) {
        boolean cuda = OpSupport.isCuda(input, "input");
        long n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
        long r = indicesAndRoisXY.size(0);
        long bins = (long) pooledH * pooledW;
        // An empty result still hangs off the input's graph (zero gradient), as torchvision's does.
        Tensor none = input.reshape(-1).narrow(0, 0, 0);
        if (r == 0 || c == 0) return none.reshape(r, c, pooledH, pooledW);
        Tensor rois = indicesAndRoisXY.detach().contiguous();
        Tensor grid = grid(rois, n);
        Tensor samples = grid.clamp_min(new Scalar(0)).prod(1);                   // (R,) samples per bin
        Tensor perRoi = samples.mul(new Scalar(bins * 4));                          // entries per roi
        Tensor ends = perRoi.cumsum(0);
        Tensor starts = ends.sub(perRoi).contiguous();
        long total = ends.get(r - 1).item_long();
        Tensor divisor = grid.select(1, 0).mul(grid.select(1, 1)).clamp_min(new Scalar(1)).to(ScalarType.Float);
        if (total == 0 || h == 0 || w == 0) {
            return input.new_zeros(new long[]{r, c, pooledH, pooledW}, new TensorOptions(ScalarType.Float))
                    .add(none.sum());
        }
        Tensor index = rois.new_empty(new long[]{total}, new TensorOptions(ScalarType.Long));
        Tensor weight = rois.new_empty(new long[]{total}, new TensorOptions(ScalarType.Float));
        RoIAlignNative lib = RoIAlignNative.get();
        if (cuda) {
            lib.weightsCuda(OpSupport.seg(rois), r, n, h, w, spatialScale, pooledH, pooledW, samplingRatio, aligned,
                    OpSupport.seg(starts), total, OpSupport.seg(index), OpSupport.seg(weight), OpSupport.stream(rois));
        } else {
            lib.weightsCpu(OpSupport.seg(rois), r, n, h, w, spatialScale, pooledH, pooledW, samplingRatio, aligned,
                    OpSupport.seg(starts), total, OpSupport.seg(index), OpSupport.seg(weight));
        }
        // bag (cell) k of roi i starts at starts[i] + k * samples[i] * 4
        Tensor cell = arange(new Scalar(bins), new TensorOptions(ScalarType.Long).device(new DeviceOptional(rois.device())));
        Tensor offsets = starts.view(r, 1).add(cell.view(1, bins).mul(samples.mul(new Scalar(4)).view(r, 1))).reshape(-1);
        Tensor rows = input.permute(0, 2, 3, 1).reshape(n * h * w, c);
        Tensor table = cat(new TensorVector(rows, rows.new_zeros(new long[]{1, c}, new TensorOptions(ScalarType.Float))), 0);
        Tensor bagged = embedding_bag(table, index, offsets, false, 0L, false, new TensorOptional(weight), false).get0();
        return bagged.view(r, bins, c).div(divisor.view(r, 1, 1))
                .view(r, pooledH, pooledW, c).permute(0, 3, 1, 2).contiguous();
    }

    private static void checkRois(Tensor rois) {
        OpSupport.requireRoIRows(rois, "indicesAndRoisXY");
    }

    private static void checkInputs(Tensor input, Tensor rois) {
        OpSupport.requireFeatureAndRoIs(input, rois, "indicesAndRoisXY");
    }
}
