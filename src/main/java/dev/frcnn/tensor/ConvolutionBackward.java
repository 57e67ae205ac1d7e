package dev.frcnn.tensor;

import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;
import java.util.Set;

import static org.bytedeco.pytorch.global.torch.conv2d;
import static org.bytedeco.pytorch.global.torch.globalContext;

/**
 * Keeps convolution gradients off the oneDNN code that crashes on CPUs which report no caches, at full speed
 * everywhere else.
 *
 * <p>Why: on CPUs whose CPUID cache leaves are empty ({@link CpuCacheTopology}; some cloud VMs), LibTorch 2.10's
 * oneDNN 3.7 divides by zero while it plans the backward-data pass of a 1x1 convolution with stride 2 and 512 or
 * more input channels (ResNet's {@code downsample.0} from {@code layer3} on): SIGFPE, the JVM dies, in training only
 * (the forward planner has no such division; a sweep of 3x3 and 7x7 strided and of stride-1 convolutions found no
 * other crash: {@code docs/reliability.md}). The modes ({@link #decision()}):
 * <ul>
 *   <li>{@link Mode#ONEDNN} where the CPU lists its caches: nothing changes;</li>
 *   <li>{@link Mode#SUBSAMPLE}, the default where it does not: a 1x1 convolution with stride s runs as the same
 *       convolution with stride 1 on the input subsampled by s
 *       ({@link #stridedPointwise}). Same products and sums (a 1x1 kernel with stride s and no padding reads
 *       exactly the pixels {@code x[..., ::s, ::s]}), so the same values up to summation order; the backward is then
 *       a stride-1 convolution's plus a strided scatter, which oneDNN plans without the faulty division. It is used in
 *       inference too, so that training and evaluation compute the same values; every other convolution is
 *       unchanged;</li>
 *   <li>{@link Mode#NATIVE}, on request only: LibTorch's mkldnn switch ({@code torch.backends.mkldnn.enabled}) is
 *       off for the duration of every training {@code backward()} ({@link #backward}), so all convolution (and
 *       matmul) gradients come from LibTorch's native kernels. It covers crashes of other shapes, should one be
 *       found, but costs much in bfloat16 (35x on a SqueezeNet step: LibTorch's native bfloat16 GEMM is scalar).</li>
 * </ul>
 *
 * <p>The choice is made once per process from {@link CpuCacheTopology#probe()}, the environment variables
 * {@code ONEDNN_MAX_CPU_ISA}/{@code DNNL_MAX_CPU_ISA} (a cap of {@code SSE41} or {@code AVX} excludes the kernels that
 * crash, so oneDNN stays as it is) and the system property {@value #PROPERTY} ({@code auto}, the default;
 * {@code onednn}, {@code subsample} or {@code native} to force one). {@link NativeLibraries#ensureExtracted()} calls
 * {@link #configure()}, which also turns off NNPACK on such CPUs: it cannot initialise there (it needs the cache
 * sizes too) and LibTorch would otherwise print "Could not initialize NNPACK! Reason: Unsupported hardware." for
 * convolutions whose backend choice reaches it; no convolution of ours runs on NNPACK where it can initialise either
 * (oneDNN comes first), so this changes no result.
 *
 * <p>Concurrency ({@link Mode#NATIVE} only): the switch is process-wide. Backward passes in several threads nest (a
 * counter): the switch is off while at least one runs. A forward pass that another thread runs meanwhile also uses
 * the native kernels (correct, slower); a VGG16 inference that started in oneDNN's blocked layout just before fails
 * with a LibTorch error rather than crash.
 */
public final class ConvolutionBackward {
    private ConvolutionBackward() {}

    private static final Logger LOG = LoggerFactory.getLogger(ConvolutionBackward.class);

    /**
     * System property that overrides the choice: {@code auto} (default), {@code onednn}, {@code subsample} or
     * {@code native}.
     */
    public static final String PROPERTY = "frcnn.convBackward";

    /** oneDNN ISA caps that exclude the brgemm kernels whose planning divides by zero (measured: AVX2 does not). */
    private static final Set<String> SAFE_ISA_CAPS = Set.of("SSE41", "AVX");

    /** Which kernels compute convolution gradients. */
    public enum Mode {
        /** oneDNN's, unchanged (LibTorch's default on the CPU). */
        ONEDNN,
        /** Strided 1x1 convolutions that need an input gradient run as stride 1 on a subsampled input. */
        SUBSAMPLE,
        /** LibTorch's native kernels for every backward: mkldnn switched off for the duration of backward. */
        NATIVE
    }

    /**
     * The choice and why.
     *
     * @param mode the kernels used
     * @param disableNnpack whether NNPACK is switched off (it cannot initialise on this CPU)
     * @param topology the CPU's caches the decision was made from
     * @param reason one line for logs and {@code bench}
     */
    public record Decision(Mode mode, boolean disableNnpack, CpuCacheTopology topology, String reason) {}

    private static volatile Decision decision;
    private static final Object LOCK = new Object();
    private static int active;
    private static boolean mkldnnBefore;
    private static boolean warned;

    /**
     * Decides from a machine description (the testable part of {@link #decision()}).
     *
     * @param topology the CPU's caches as the kernel lists them
     * @param maxIsa the value of {@code ONEDNN_MAX_CPU_ISA} (or {@code DNNL_MAX_CPU_ISA}), or null when unset
     * @param override the value of {@value #PROPERTY}, or null when unset
     * @return the decision
     * @throws IllegalArgumentException if {@code override} is not {@code auto}, {@code onednn}, {@code subsample} or
     *     {@code native}
     */
    public static Decision decide(CpuCacheTopology topology, String maxIsa, String override) {
        boolean listed = topology.listsDataCaches();
        String o = override == null ? "auto" : override.trim().toLowerCase(Locale.ROOT);
        String cpu = "CPU caches: " + topology.describe();
        switch (o) {
            case "onednn":
                return new Decision(Mode.ONEDNN, !listed, topology, cpu + "; " + PROPERTY + "=onednn");
            case "subsample":
                return new Decision(Mode.SUBSAMPLE, !listed, topology, cpu + "; " + PROPERTY + "=subsample");
            case "native":
                return new Decision(Mode.NATIVE, !listed, topology, cpu + "; " + PROPERTY + "=native");
            case "auto":
                break;
            default:
                throw new IllegalArgumentException("system property " + PROPERTY
                        + " must be auto, onednn, subsample or native, not '" + override + "'");
        }
        if (listed) return new Decision(Mode.ONEDNN, false, topology, cpu);
        if (maxIsa != null && SAFE_ISA_CAPS.contains(maxIsa.trim().toUpperCase(Locale.ROOT))) {
            return new Decision(Mode.ONEDNN, true, topology, cpu + "; oneDNN capped at " + maxIsa.trim() + ", which avoids the crash");
        }
        return new Decision(Mode.SUBSAMPLE, true, topology, cpu + ": oneDNN's backward of strided 1x1 convolutions divides by "
                + "zero on such CPUs, so they run with stride 1 on a subsampled input");
    }

    /** This process's decision (made once, from this machine). */
    public static Decision decision() {
        Decision d = decision;
        if (d == null) {
            synchronized (LOCK) {
                d = decision;
                if (d == null) {
                    String isa = System.getenv("ONEDNN_MAX_CPU_ISA");
                    if (isa == null) isa = System.getenv("DNNL_MAX_CPU_ISA");
                    d = decide(CpuCacheTopology.probe(), isa, System.getProperty(PROPERTY));
                    decision = d;
                }
            }
        }
        return d;
    }

    /**
     * Makes the decision and applies its process-wide part (NNPACK off where it cannot initialise). Called by
     * {@link NativeLibraries#ensureExtracted()} after the LibTorch libraries are extracted; loads LibTorch only when
     * there is something to switch off.
     */
    public static void configure() {
        if (decision().disableNnpack()) globalContext().setUserEnabledNNPACK(false);
    }

    /**
     * {@code conv.forward(x)} for a 1x1 convolution without padding, dilation or groups (ResNet's projection
     * shortcut): with {@link Mode#SUBSAMPLE} and a stride s &gt; 1, computed as the same convolution with stride 1 on
     * {@code x[:, :, ::s, ::s]}, else as it is. The subsampled form is used with and without gradients, so that
     * training and evaluation compute the same values on one machine.
     *
     * @param conv a 1x1 convolution (any stride; bias optional)
     * @param x (N, C, H, W) input
     * @return (N, C', ceil(H/s), ceil(W/s)), in the dtype LibTorch gives (autocast applies as for {@code forward})
     */
    public static Tensor stridedPointwise(Conv2dImpl conv, Tensor x) {
        return stridedPointwise(conv, x, decision().mode());
    }

    /** {@link #stridedPointwise(Conv2dImpl, Tensor)} under the given mode (the tests compare the modes). */
    static Tensor stridedPointwise(Conv2dImpl conv, Tensor x, Mode mode) {
        if (mode != Mode.SUBSAMPLE) return conv.forward(x);
        long sh = conv.options().stride().get(0), sw = conv.options().stride().get(1);
        if (sh == 1 && sw == 1) return conv.forward(x);
        Tensor xs = x.slice(2, new LongOptional(0), new LongOptional(x.size(2)), sh)
                .slice(3, new LongOptional(0), new LongOptional(x.size(3)), sw);
        if (!subsampleAnnounced) {
            subsampleAnnounced = true;
            LOG.info("{}", decision().reason());
        }
        TensorOptional bias = conv.options().bias().get() ? new TensorOptional(conv.bias()) : new TensorOptional();
        return conv2d(xs, conv.weight(), bias, new long[]{1, 1}, new long[]{0, 0}, new long[]{1, 1}, 1);
    }

    private static volatile boolean subsampleAnnounced;

    /**
     * {@code loss.backward()} under this process's {@link Mode}: with {@link Mode#NATIVE}, LibTorch's mkldnn switch is
     * off while it runs (one warning per process the first time); otherwise just {@code loss.backward()}.
     *
     * @param loss a scalar tensor (or any tensor {@code backward()} accepts) with a graph
     * @throws RuntimeException whatever LibTorch's {@code backward} throws
     */
    public static void backward(Tensor loss) {
        backward(loss, decision().mode());
    }


    /** {@code loss.backward()} with the given kernels (the test's way to compare them on any machine). */
    static void backward(Tensor loss, Mode mode) {
        if (mode != Mode.NATIVE) {
            loss.backward();
            return;
        }
        enterNative();
        try {
            loss.backward();
        } finally {
            exitNative();
        }
    }

    private static void enterNative() {
        synchronized (LOCK) {
            if (!warned) {
                warned = true;
                LOG.warn("{}; training is slower (docs/reliability.md)", decision().reason());
            }
            if (active++ == 0) {
                mkldnnBefore = globalContext().userEnabledMkldnn();
                globalContext().setUserEnabledMkldnn(false);
            }
        }
    }

    private static void exitNative() {
        synchronized (LOCK) {
            if (--active == 0) globalContext().setUserEnabledMkldnn(mkldnnBefore);
        }
    }
}
