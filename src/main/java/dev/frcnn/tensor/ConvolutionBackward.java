package dev.frcnn.tensor;

import org.bytedeco.pytorch.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;
import java.util.Set;

import static org.bytedeco.pytorch.global.torch.globalContext;

/**
 * Runs {@code loss.backward()} with the convolution backward kernels that are safe on this CPU: oneDNN's where the
 * CPU reports its caches, LibTorch's native ones ({@code slow_conv2d_backward}: im2col and GEMM) where it does not.
 *
 * <p>Why: on CPUs whose CPUID cache leaves are empty ({@link CpuCacheTopology}; some cloud VMs), LibTorch 2.10's
 * oneDNN 3.7 divides by zero while it plans the backward-data pass of a 1x1 strided convolution with 512 or more
 * input channels (ResNet's {@code downsample.0} in {@code layer3}/{@code layer4}): SIGFPE, the JVM dies, in training
 * only (oneDNN's forward kernels plan without that division). LibTorch chooses the backend of each convolution's
 * backward again when the backward runs, from the same global switch as {@code torch.backends.mkldnn.enabled}, so
 * turning the switch off for the duration of {@code backward()} sends every convolution's backward to LibTorch's
 * native kernels while the forward passes (training and inference) keep oneDNN. The gradients are the same
 * mathematics with another summation order (float rounding differs). Measured costs are in
 * {@code docs/reliability.md}; on machines that report their caches nothing changes.
 *
 * <p>The choice ({@link #decision()}) is made once per process from {@link CpuCacheTopology#probe()}, the
 * environment variables {@code ONEDNN_MAX_CPU_ISA}/{@code DNNL_MAX_CPU_ISA} (a cap of {@code SSE41} or {@code AVX}
 * excludes the kernels that crash, so oneDNN stays), and the system property {@value #PROPERTY} ({@code auto}, the
 * default; {@code onednn} or {@code native} to force one). {@link NativeLibraries#ensureExtracted()} calls
 * {@link #configure()}, which also turns off NNPACK on such CPUs: it cannot initialise there (it needs the cache
 * sizes too) and LibTorch would otherwise print "Could not initialize NNPACK! Reason: Unsupported hardware." for
 * every convolution whose backend choice reaches it; no convolution of ours runs on NNPACK where it can initialise
 * either (oneDNN comes first), so this changes no result.
 *
 * <p>Concurrency: the switch is process-wide. Backward passes in several threads nest (a counter): the switch is
 * off while at least one runs. A forward pass that another thread runs meanwhile also uses the native kernels
 * (correct, slower); a VGG16 inference that started in oneDNN's blocked layout just before fails with a LibTorch
 * error rather than crash (docs/reliability.md).
 */
public final class ConvolutionBackward {
    private ConvolutionBackward() {}

    private static final Logger LOG = LoggerFactory.getLogger(ConvolutionBackward.class);

    /** System property that overrides the choice: {@code auto} (default), {@code onednn} or {@code native}. */
    public static final String PROPERTY = "frcnn.convBackward";

    /** oneDNN ISA caps that exclude the brgemm kernels whose planning divides by zero (measured: AVX2 does not). */
    private static final Set<String> SAFE_ISA_CAPS = Set.of("SSE41", "AVX");

    /** Which kernels compute convolution gradients. */
    public enum Mode {
        /** oneDNN's (LibTorch's default on the CPU). */
        ONEDNN,
        /** LibTorch's native {@code slow_conv2d_backward}: mkldnn switched off for the duration of backward. */
        NATIVE
    }

    /**
     * The choice and why.
     *
     * @param mode the kernels used
     * @param disableNnpack whether NNPACK is switched off (it cannot initialise on this CPU)
     * @param reason one line for logs and {@code bench}
     */
    public record Decision(Mode mode, boolean disableNnpack, String reason) {}

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
     * @throws IllegalArgumentException if {@code override} is not {@code auto}, {@code onednn} or {@code native}
     */
    public static Decision decide(CpuCacheTopology topology, String maxIsa, String override) {
        boolean listed = topology.listsDataCaches();
        String o = override == null ? "auto" : override.trim().toLowerCase(Locale.ROOT);
        String cpu = "CPU caches: " + topology.describe();
        switch (o) {
            case "onednn":
                return new Decision(Mode.ONEDNN, !listed, cpu + "; " + PROPERTY + "=onednn");
            case "native":
                return new Decision(Mode.NATIVE, !listed, cpu + "; " + PROPERTY + "=native");
            case "auto":
                break;
            default:
                throw new IllegalArgumentException("system property " + PROPERTY + " must be auto, onednn or native, not '"
                        + override + "'");
        }
        if (listed) return new Decision(Mode.ONEDNN, false, cpu);
        if (maxIsa != null && SAFE_ISA_CAPS.contains(maxIsa.trim().toUpperCase(Locale.ROOT))) {
            return new Decision(Mode.ONEDNN, true, cpu + "; oneDNN capped at " + maxIsa.trim() + ", which avoids the crash");
        }
        return new Decision(Mode.NATIVE, true, cpu + ": oneDNN's convolution backward divides by zero on such CPUs, "
                + "so it runs LibTorch's native kernels");
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
     * {@code loss.backward()} under this process's {@link Mode}. With {@link Mode#NATIVE} it logs one warning per
     * process the first time.
     *
     * @param loss a scalar tensor (or any tensor {@code backward()} accepts) with a graph
     * @throws RuntimeException whatever LibTorch's {@code backward} throws
     */
    public static void backward(Tensor loss) {
        backward(loss, decision().mode());
    }

    /** {@code loss.backward()} with the given kernels (the test's way to compare them on any machine). */
    static void backward(Tensor loss, Mode mode) {
        if (mode == Mode.ONEDNN) {
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
