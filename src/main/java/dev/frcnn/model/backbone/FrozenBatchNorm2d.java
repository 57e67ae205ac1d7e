package dev.frcnn.model.backbone;

import dev.frcnn.model.roi.NormLayer;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.batch_norm;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * A BatchNorm2d that always normalises with its running statistics, whatever {@link #is_training()} says:
 * {@code y = (x - running_mean) / sqrt(running_var + eps) * weight + bias} per channel, computed by
 * LibTorch's {@code batch_norm(..., training=false, ...)}, i.e. exactly what torchvision's {@code BatchNorm2d}
 * computes in {@code eval()} mode. This is detectron2's / torchvision's {@code FrozenBatchNorm2d} in effect
 * (detection batches are too small for batch statistics).
 *
 * <p>State (names as torchvision's {@code BatchNorm2d}, so state_dict keys map 1:1): parameters
 * {@code weight} (C,) and {@code bias} (C,) float32, registered with {@code requires_grad=false} (never
 * trained); buffers {@code running_mean} (C,), {@code running_var} (C,) float32 and
 * {@code num_batches_tracked} () int64 (kept only so torchvision state dicts load without renaming; never
 * read or updated). Initial values: weight 1, bias 0, mean 0, var 1.
 */
public final class FrozenBatchNorm2d extends Module {
    /** torchvision's BatchNorm2d default epsilon. */
    public static final double DEFAULT_EPS = 1e-5;

    private final int channels;
    private final double eps;
    private final Tensor weight;
    private final Tensor bias;
    private final Tensor runningMean;
    private final Tensor runningVar;

    /**
     * @param channels number of channels C (&gt; 0)
     * @param eps added to the variance (torchvision: 1e-5)
     * @throws IllegalArgumentException if {@code channels <= 0} or {@code eps} is negative or not finite
     */
    public FrozenBatchNorm2d(int channels, double eps) {
        this(channels, eps, true);
    }

    /**
     * As {@link #FrozenBatchNorm2d(int, double)}, with or without the unused {@code num_batches_tracked} buffer.
     * torchvision's own {@code torchvision.ops.FrozenBatchNorm2d} (the one of its detection models) has none: its
     * state dict holds {@code weight}, {@code bias}, {@code running_mean}, {@code running_var} only.
     *
     * @param channels number of channels C (&gt; 0)
     * @param eps added to the variance (torchvision: 1e-5; 0.0 after loading its COCO checkpoints)
     * @param numBatchesTracked whether to register the {@code num_batches_tracked} buffer
     * @throws IllegalArgumentException if {@code channels <= 0} or {@code eps} is negative or not finite
     */
    public FrozenBatchNorm2d(int channels, double eps, boolean numBatchesTracked) {
        super("FrozenBatchNorm2d");
        if (channels <= 0) throw new IllegalArgumentException("channels must be > 0, got " + channels);
        if (!(eps >= 0) || Double.isInfinite(eps)) throw new IllegalArgumentException("eps must be finite and >= 0");
        this.channels = channels;
        this.eps = eps;
        // Keep our own handles: register_* return references into the module's ordered dicts, which dangle once
        // the dicts grow. The registered tensors share these handles' TensorImpl (also across Module.to()).
        this.weight = ones(channels);
        this.bias = zeros(channels);
        this.runningMean = zeros(channels);
        this.runningVar = ones(channels);
        register_parameter("weight", weight, false);
        register_parameter("bias", bias, false);
        register_buffer("running_mean", runningMean);
        register_buffer("running_var", runningVar);
        if (numBatchesTracked) {
            register_buffer("num_batches_tracked", zeros(new long[]{}, new TensorOptions(ScalarType.Long)));
        }
    }

    /** As {@link #FrozenBatchNorm2d(int, double)} with eps {@value #DEFAULT_EPS}. */
    public FrozenBatchNorm2d(int channels) {
        this(channels, DEFAULT_EPS);
    }

    /**
     * This layer as torchvision's {@code norm_layer} argument ({@link NormLayer}): {@code nn.BatchNorm2d} in
     * {@code eval()} mode, as {@code fasterrcnn_resnet50_fpn_v2}'s FPN and box head use it
     * ({@code asNormLayer(DEFAULT_EPS, true)}: the keys of {@code nn.BatchNorm2d}, {@code num_batches_tracked} included).
     *
     * @param eps added to the variance of every layer it makes
     * @param numBatchesTracked whether the layers have the {@code num_batches_tracked} buffer
     * @return the norm layer
     * @throws IllegalArgumentException if {@code eps} is negative or not finite
     */
    public static NormLayer asNormLayer(double eps, boolean numBatchesTracked) {
        if (!(eps >= 0) || Double.isInfinite(eps)) throw new IllegalArgumentException("eps must be finite and >= 0");
        return new NormLayer() {
            @Override
            public Module create(int channels) {
                return new FrozenBatchNorm2d(channels, eps, numBatchesTracked);
            }

            @Override
            public Tensor forward(Module norm, Tensor x) {
                return ((FrozenBatchNorm2d) norm).forward(x);
            }
        };
    }

    /** Number of channels. */
    public int channels() { return channels; }

    /** The epsilon added to the running variance. */
    public double eps() { return eps; }

    /** The scale parameter (C,) float32 ({@code requires_grad} false unless a caller changes it). */
    public Tensor weight() { return weight; }

    /** The shift parameter (C,) float32. */
    public Tensor bias() { return bias; }

    /** The running mean buffer (C,) float32. */
    public Tensor runningMean() { return runningMean; }

    /** The running variance buffer (C,) float32. */
    public Tensor runningVar() { return runningVar; }

    /**
     * Normalises with the running statistics (training mode is ignored; the buffers are never updated).
     *
     * @param x (N, C, H, W) float32, on the module's device
     * @return (N, C, H, W) float32; differentiable with respect to {@code x} (and to weight/bias if a caller
     *     re-enables their gradients)
     */
    public Tensor forward(Tensor x) {
        return batch_norm(x, new TensorOptional(weight), new TensorOptional(bias), new TensorOptional(runningMean),
                new TensorOptional(runningVar), false, 0.0, eps, true);
    }
}
