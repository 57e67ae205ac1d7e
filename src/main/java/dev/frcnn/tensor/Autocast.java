package dev.frcnn.tensor;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.MemoryFormat;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicBoolean;

import static org.bytedeco.pytorch.global.torch.get_autocast_dtype;
import static org.bytedeco.pytorch.global.torch.is_autocast_cache_enabled;
import static org.bytedeco.pytorch.global.torch.is_autocast_enabled;
import static org.bytedeco.pytorch.global.torch.set_autocast_cache_enabled;
import static org.bytedeco.pytorch.global.torch.set_autocast_dtype;
import static org.bytedeco.pytorch.global.torch.set_autocast_enabled;

/**
 * A region of mixed-precision execution, as Python's {@code with torch.autocast(device_type, dtype=torch.bfloat16)}:
 * while open, LibTorch's autocast dispatch (thread-local, like {@code NoGradGuard}) runs convolutions and linear
 * layers in bfloat16 (casting their float32 inputs and weights) and its float32-listed ops in float32. Every other
 * op runs in the dtype of its inputs, so code that must stay float32 casts its inputs back with {@link #toFloat}.
 *
 * <p>Autocast's cast cache is switched off inside the region (and restored on close): LibTorch's C++ API has no
 * {@code clear_cache} that the presets expose, and a cache that outlived a region would keep bfloat16 copies of
 * weights that the optimizer has since changed. So each forward casts the weights it uses (measured in
 * {@code docs/performance.md}).
 *
 * <p>On the CPU, bfloat16 is only worth it with native instructions ({@link Bf16Support}); where they are
 * missing, {@link #enter} says so once (a warning) and the region runs float32. On CUDA, the same region uses
 * CUDA autocast with bfloat16. Regions nest; closing one restores what was set before it.
 */
public final class Autocast implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Autocast.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();
    private static final Autocast OFF = new Autocast(null, false, null, false);

    private final DeviceType type;
    private final boolean wasEnabled;
    private final ScalarType previousDtype;
    private final boolean cacheWasEnabled;

    private Autocast(DeviceType type, boolean wasEnabled, ScalarType previousDtype, boolean cacheWasEnabled) {
        this.type = type;
        this.wasEnabled = wasEnabled;
        this.previousDtype = previousDtype;
        this.cacheWasEnabled = cacheWasEnabled;
    }

    /**
     * The precision that {@code requested} gives on {@code device}: {@link Precision#BF16} on CUDA and on CPUs with
     * native bfloat16, else {@link Precision#FP32}.
     */
    public static Precision effective(Precision requested, Device device) {
        if (requested == Precision.FP32) return Precision.FP32;
        if (device.is_cuda()) return Precision.BF16;
        if (device.is_cpu()) return Bf16Support.cpu().nativeBf16() ? Precision.BF16 : Precision.FP32;
        return Precision.FP32;
    }

    /**
     * Opens a region for {@code precision} on {@code device}. For {@link Precision#FP32}, or {@link Precision#BF16}
     * where {@link #effective} gives FP32, the region changes nothing (the float32 path, bit for bit).
     *
     * @param precision the requested precision
     * @param device where the computation runs (CPU or CUDA)
     * @return the region; close it (try-with-resources) on the thread that opened it
     */
    public static Autocast enter(Precision precision, Device device) {
        if (precision == Precision.FP32) return OFF;
        if (effective(precision, device) == Precision.FP32) {
            if (WARNED.compareAndSet(false, true)) {
                LOG.warn("precision=bf16 requested, but this CPU has no native bfloat16 ({}); running fp32",
                        Bf16Support.cpu().describe());
            }
            return OFF;
        }
        DeviceType type = device.is_cuda() ? DeviceType.CUDA : DeviceType.CPU;
        Autocast region = new Autocast(type, is_autocast_enabled(type), get_autocast_dtype(type),
                is_autocast_cache_enabled());
        set_autocast_dtype(type, ScalarType.BFloat16);
        set_autocast_enabled(type, true);
        set_autocast_cache_enabled(false);
        return region;
    }

    /** Whether autocast is on for {@code x}'s device type on this thread (inside an open bf16 region). */
    public static boolean isActive(Tensor x) {
        return is_autocast_enabled(x.is_cuda() ? DeviceType.CUDA : DeviceType.CPU);
    }

    /**
     * The layout convolutions run fastest in under autocast: channels-last (NHWC) for a 4-D tensor inside an active
     * region, {@code x} itself otherwise (so the float32 path is untouched).
     *
     * @param x (N, C, H, W) activations
     */
    public static Tensor convLayout(Tensor x) {
        return x.dim() == 4 && isActive(x) ? x.contiguous(MemoryFormat.ChannelsLast) : x;
    }

    /**
     * {@code x} as contiguous float32: the boundary where mixed-precision outputs enter float32-only code (losses,
     * softmax, box decoding, the native RoI ops). Returns {@code x} itself when it already is (no copy, no autograd
     * node), so the float32 path is unchanged.
     *
     * @param x any floating tensor
     * @return float32, contiguous in the default (NCHW) order
     */
    public static Tensor toFloat(Tensor x) {
        Tensor f = Tensors.isType(x, ScalarType.Float) ? x : x.to(ScalarType.Float);
        return f.is_contiguous() ? f : f.contiguous();
    }

    /** Restores the autocast state found when the region was opened. */
    @Override
    public void close() {
        if (type == null) return;
        set_autocast_enabled(type, wasEnabled);
        set_autocast_dtype(type, previousDtype);
        set_autocast_cache_enabled(cacheWasEnabled);
    }
}
