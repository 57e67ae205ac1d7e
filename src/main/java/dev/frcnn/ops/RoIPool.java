package dev.frcnn.ops;

import dev.frcnn.ops.nativeops.NativeOps;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static org.bytedeco.pytorch.global.torch.arange;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.where;

/**
 * RoI max pooling with {@code torchvision.ops.RoIPool} semantics (torchvision 0.14 CPU kernel), as the reference's
 * {@code VGG16RoIHead} calls it ({@code RoIPool((7, 7), 1/16)}), differentiable with respect to the input.
 *
 * <p>Per roi (float32, as torchvision): {@code start = round(coord * spatialScale)} (half away from zero),
 * {@code roi_w = max(end_w - start_w + 1, 1)}, bin size {@code roi_h / pooledH}; bin {@code ph} covers rows
 * {@code [floor(ph * bin_h), ceil((ph + 1) * bin_h)) + start_h} clipped to {@code [0, H]} (columns likewise). The
 * output is the bin maximum (first maximum in row-major order; NaN never wins); an empty bin (e.g. a roi outside the
 * map) gives 0 and argmax -1. The backward adds each output gradient at its argmax.
 *
 * <p>Autograd: JavaCPP cannot define custom autograd functions, so when the input requires grad (and grad mode is
 * on) the output is re-gathered from the input at the native argmax: on the CPU
 * {@code concat(input.reshape(-1), [0, -FLT_MAX]).index_select(0, index)} with the index from
 * {@code frcnn_roi_pool_gather_index_cpu}, on CUDA
 * {@code where(argmax >= 0, input.reshape(-1).index_select(0, flatIndex), nativeOutput)}. Both equal the native
 * output exactly, and the gather's backward ({@code index_add}) is exactly RoIPool's backward (a scatter-add to the
 * argmax, in (roi, channel, ph, pw) order on the CPU). Without grad the native op runs without computing an argmax
 * (same output, about half the work per bin cell on the CPU) and its output is returned as is.
 *
 * <p>Tensors created here belong to the caller's {@link org.bytedeco.javacpp.PointerScope}, as for any LibTorch op.
 */
public final class RoIPool {
    /** Values gathered for bins without an argmax: 0 (empty bin) and -FLT_MAX (a bin of only NaN/-inf). */
    private static final float[] PAD = {0f, -Float.MAX_VALUE};

    private final int pooledH;
    private final int pooledW;
    private final float spatialScale;

    /**
     * Output of the native forward: the pooled values and the argmax of every output cell.
     *
     * @param output (R, C, pooledH, pooledW) float32, no autograd history
     * @param argmax (R, C, pooledH, pooledW) int64: {@code h * W + w} of the maximum inside the (batch, channel)
     *     plane of the input, or -1 for an empty bin
     */
    public record Pooled(Tensor output, Tensor argmax) {}

    /**
     * @param pooledH output height (7 for VGG16), {@code > 0}
     * @param pooledW output width, {@code > 0}
     * @param spatialScale feature/image ratio (1/16), rounded to float32 as torchvision does
     * @throws IllegalArgumentException for non-positive sizes or a non-finite scale
     */
    public RoIPool(int pooledH, int pooledW, double spatialScale) {
        OpSupport.requirePooledSize(pooledH, pooledW);
        this.pooledH = pooledH;
        this.pooledW = pooledW;
        this.spatialScale = OpSupport.float32Scale(spatialScale);
    }

    /** Output height. */
    public int pooledH() { return pooledH; }

    /** Output width. */
    public int pooledW() { return pooledW; }

    /** Feature/image scale as float32. */
    public float spatialScale() { return spatialScale; }

    /**
     * {@code torchvision.ops.RoIPool.forward}.
     *
     * @param input (N, C, H, W) float32 feature map (CPU or CUDA; non-contiguous input is made contiguous)
     * @param indicesAndRois (R, 5) float32 rows (batch_index, x1, y1, x2, y2) in input-image pixels, on the input's
     *     device; the reference builds it from (ymin, xmin, ymax, xmax) rois by swapping the columns
     * @return (R, C, pooledH, pooledW) float32 on the input's device; autograd flows to {@code input}
     * @throws IllegalArgumentException for a wrong dtype (not float32), a wrong shape, tensors on different devices,
     *     a batch index that is not an integer in [0, N), or non-finite roi coordinates
     * @throws UnsupportedOperationException for CUDA tensors when the native library has no CUDA support or no device
     */
    public Tensor forward(Tensor input, Tensor indicesAndRois) {
        if (!input.requires_grad() || !GradMode.is_enabled()) {
            return pool(input, indicesAndRois, pooledH, pooledW, spatialScale, false).output();
        }
        Pooled p = forwardWithArgmax(input, indicesAndRois);
        long r = indicesAndRois.size(0), c = input.size(1), plane = input.size(2) * input.size(3);
        Tensor argmax = p.argmax();
        if (!input.is_cuda()) {
            // CPU: one native pass computes the gather index into concat(input.reshape(-1), [0, -FLT_MAX])
            Tensor rois = indicesAndRois.detach().contiguous();
            Tensor index = argmax.new_empty(Tensors.shape(argmax), new TensorOptions(ScalarType.Long));
            long fillBase = input.numel();
            if (index.numel() > 0) {
                NativeOps.get().roiPoolGatherIndexCpu(OpSupport.seg(argmax), OpSupport.seg(p.output()),
                        OpSupport.seg(rois), r, input.size(0), c, input.size(2), input.size(3), pooledH, pooledW,
                        fillBase, OpSupport.seg(index));
            }
            Tensor source = cat(new TensorVector(input.reshape(-1), Tensors.fromFloats(PAD, 2)), 0);
            return source.index_select(0, index.view(-1)).view(r, c, pooledH, pooledW);
        }
        // CUDA: the same with tensor ops (flat index = (batch * C + channel) * H * W + argmax)
        Tensor batch = indicesAndRois.detach().select(1, 0).to(ScalarType.Long);
        Tensor channel = arange(new Scalar(c), new TensorOptions(ScalarType.Long).device(new DeviceOptional(input.device())));
        Tensor base = batch.mul(new Scalar(c)).view(r, 1).add(channel.view(1, c)).mul(new Scalar(plane)).view(r, c, 1, 1);
        Tensor flat = argmax.clamp_min(new Scalar(0)).add_(base);
        Tensor gathered = input.reshape(-1).index_select(0, flat.view(-1)).view(r, c, pooledH, pooledW);
        return where(argmax.ge(new Scalar(0)), gathered, p.output());
    }

    /**
     * The native forward without autograd: pooled values and argmax ({@code torchvision.ops.roi_pool}'s
     * {@code torch.ops.torchvision.roi_pool}, which returns both).
     *
     * @param input (N, C, H, W) float32
     * @param indicesAndRois (R, 5) float32 rows (batch_index, x1, y1, x2, y2)
     * @throws IllegalArgumentException as {@link #forward}
     */
    public Pooled forwardWithArgmax(Tensor input, Tensor indicesAndRois) {
        return forwardWithArgmax(input, indicesAndRois, pooledH, pooledW, spatialScale);
    }

    /**
     * The native forward without autograd for explicit parameters.
     *
     * @param input (N, C, H, W) float32
     * @param indicesAndRois (R, 5) float32 rows (batch_index, x1, y1, x2, y2) in input-image pixels
     * @param pooledH output height, {@code > 0}
     * @param pooledW output width, {@code > 0}
     * @param spatialScale feature/image ratio as float32
     * @return output (R, C, pooledH, pooledW) float32 and argmax (R, C, pooledH, pooledW) int64, on the input's device
     * @throws IllegalArgumentException as {@link #forward}
     */
    public static Pooled forwardWithArgmax(Tensor input, Tensor indicesAndRois, int pooledH, int pooledW,
                                           float spatialScale) {
        return pool(input, indicesAndRois, pooledH, pooledW, spatialScale, true);
    }

    /** The native forward; without {@code withArgmax} the native op skips the argmax (same output) and it is null. */
    private static Pooled pool(Tensor input, Tensor indicesAndRois, int pooledH, int pooledW, float spatialScale,
                               boolean withArgmax) {
        checkInputs(input, indicesAndRois);
        OpSupport.requirePooledSize(pooledH, pooledW);
        boolean cuda = OpSupport.isCuda(input, "input");
        long n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
        long r = indicesAndRois.size(0);
        long[] outShape = {r, c, pooledH, pooledW};
        Tensor x = input.detach().contiguous();
        Tensor rois = indicesAndRois.detach().contiguous();
        Tensor out = x.new_empty(outShape, new TensorOptions(ScalarType.Float));
        Tensor argmax = withArgmax ? x.new_empty(outShape, new TensorOptions(ScalarType.Long)) : null;
        if (out.numel() == 0) return new Pooled(out, argmax);
        NativeOps lib = NativeOps.get();
        MemorySegment argmaxSeg = withArgmax ? OpSupport.seg(argmax) : MemorySegment.NULL;
        if (cuda) {
            lib.roiPoolForwardCuda(OpSupport.seg(x), n, c, h, w, OpSupport.seg(rois), r, spatialScale, pooledH,
                    pooledW, OpSupport.seg(out), argmaxSeg, OpSupport.stream(x));
        } else {
            lib.roiPoolForwardCpu(OpSupport.seg(x), n, c, h, w, OpSupport.seg(rois), r, spatialScale, pooledH,
                    pooledW, OpSupport.seg(out), argmaxSeg);
        }
        return new Pooled(out, argmax);
    }

    /**
     * The native backward ({@code torchvision}'s {@code _roi_pool_backward}): grad_input with every
     * {@code gradOutput} cell added at its argmax, accumulated in (roi, channel, ph, pw) order on the CPU (atomicAdd
     * on CUDA).
     *
     * @param gradOutput (R, C, PH, PW) float32
     * @param argmax (R, C, PH, PW) int64 from {@link #forwardWithArgmax}
     * @param indicesAndRois (R, 5) float32 rows (batch_index, x1, y1, x2, y2); only the batch index is used
     * @param inputShape (N, C, H, W) of the forward's input
     * @return (N, C, H, W) float32 on gradOutput's device
     * @throws IllegalArgumentException for wrong dtypes/shapes/devices, a bad batch index, or argmax values outside
     *     [-1, H * W)
     */
    public static Tensor backward(Tensor gradOutput, Tensor argmax, Tensor indicesAndRois, long[] inputShape) {
        OpSupport.requireDefined(gradOutput, "gradOutput");
        OpSupport.requireDefined(argmax, "argmax");
        OpSupport.requireDefined(indicesAndRois, "indicesAndRois");
        if (inputShape == null || inputShape.length != 4 || Arrays.stream(inputShape).anyMatch(v -> v < 0)) {
            throw new IllegalArgumentException("inputShape must be (N, C, H, W), got " + Arrays.toString(inputShape));
        }
        OpSupport.requireFloat(gradOutput, "gradOutput");
        OpSupport.requireLong(argmax, "argmax");
        OpSupport.requireFloat(indicesAndRois, "indicesAndRois");
        if (indicesAndRois.dim() != 2 || indicesAndRois.size(1) != 5) {
            throw new IllegalArgumentException("indicesAndRois must have shape (R, 5), got "
                    + Tensors.shapeString(indicesAndRois));
        }
        long r = indicesAndRois.size(0), c = inputShape[1];
        if (gradOutput.dim() != 4 || gradOutput.size(0) != r || gradOutput.size(1) != c) {
            throw new IllegalArgumentException("gradOutput must have shape (R, C, PH, PW) = (" + r + ", " + c
                    + ", PH, PW), got " + Tensors.shapeString(gradOutput));
        }
        if (!Arrays.equals(Tensors.shape(argmax), Tensors.shape(gradOutput))) {
            throw new IllegalArgumentException("argmax shape " + Tensors.shapeString(argmax)
                    + " differs from gradOutput shape " + Tensors.shapeString(gradOutput));
        }
        if (gradOutput.size(2) <= 0 || gradOutput.size(3) <= 0) {
            throw new IllegalArgumentException("pooled size must be positive, got " + Tensors.shapeString(gradOutput));
        }
        OpSupport.requireSameDevice(gradOutput, "gradOutput", argmax, "argmax");
        OpSupport.requireSameDevice(gradOutput, "gradOutput", indicesAndRois, "indicesAndRois");
        boolean cuda = OpSupport.isCuda(gradOutput, "gradOutput");
        Tensor go = gradOutput.detach().contiguous();
        Tensor am = argmax.contiguous();
        Tensor rois = indicesAndRois.detach().contiguous();
        Tensor gi = go.new_empty(inputShape, new TensorOptions(ScalarType.Float));
        NativeOps lib = NativeOps.get();
        if (cuda) {
            lib.roiPoolBackwardCuda(OpSupport.seg(go), OpSupport.seg(am), OpSupport.seg(rois), r, inputShape[0], c,
                    inputShape[2], inputShape[3], go.size(2), go.size(3), OpSupport.seg(gi), OpSupport.stream(go));
        } else {
            lib.roiPoolBackwardCpu(OpSupport.seg(go), OpSupport.seg(am), OpSupport.seg(rois), r, inputShape[0], c,
                    inputShape[2], inputShape[3], go.size(2), go.size(3), OpSupport.seg(gi));
        }
        return gi;
    }

    private static void checkInputs(Tensor input, Tensor rois) {
        OpSupport.requireFeatureAndRoIs(input, rois, "indicesAndRois");
    }
}
