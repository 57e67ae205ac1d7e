package dev.frcnn.tensor;

import dev.frcnn.tensor.ConvolutionBackward.Decision;
import dev.frcnn.tensor.ConvolutionBackward.Mode;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.globalContext;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * The oneDNN convolution-backward crash on CPUs that report no caches: the decision on both kinds of machine
 * description (sysfs trees written here); the subsampled form of strided 1x1 convolutions and the native backward
 * give oneDNN's values and gradients (and the latter restores the switch). The crash itself is exercised where CI
 * runs by {@code ResNetC4BackboneTest} (layer4's downsample backward).
 */
class ConvolutionBackwardTest {
    /** What Linux lists on a machine that reports its caches (this layout is a Zen 4's). */
    static Path healthyMachine(Path root) throws IOException {
        cache(root, 0, 1, "Data", "32K");
        cache(root, 1, 1, "Instruction", "32K");
        cache(root, 2, 2, "Unified", "1024K");
        cache(root, 3, 3, "Unified", "32768K");
        return root;
    }

    static void cache(Path root, int index, int level, String type, String size) throws IOException {
        Path d = Files.createDirectories(root.resolve("cpu0/cache/index" + index));
        Files.writeString(d.resolve("level"), level + "\n");
        Files.writeString(d.resolve("type"), type + "\n");
        Files.writeString(d.resolve("size"), size + "\n");
    }

    @Test
    void aMachineThatListsItsCachesKeepsOneDnn(@TempDir Path root) throws IOException {
        CpuCacheTopology t = CpuCacheTopology.read(healthyMachine(root));
        assertThat(t.listsDataCaches()).isTrue();
        assertThat(t.dataCaches()).extracting(CpuCacheTopology.Cache::level).containsExactly(1, 2, 3);
        assertThat(t.dataCaches().get(0).sizeBytes()).isEqualTo(32 * 1024);
        assertThat(t.describe()).isEqualTo("L1 Data 32K, L2 Unified 1024K, L3 Unified 32768K");
        Decision d = ConvolutionBackward.decide(t, null, null);
        assertThat(d.mode()).isEqualTo(Mode.ONEDNN);
        assertThat(d.disableNnpack()).isFalse();
    }

    @Test
    void aMachineWithoutCacheTopologySubsamplesStridedPointwiseConvolutionsAndHasNoNnpack(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve("cpu0")); // as on the AMD family 26 VM: no cache/ at all
        CpuCacheTopology t = CpuCacheTopology.read(root);
        assertThat(t.listsDataCaches()).isFalse();
        assertThat(t.describe()).isEqualTo("no caches listed");
        Decision d = ConvolutionBackward.decide(t, null, null);
        assertThat(d.mode()).isEqualTo(Mode.SUBSAMPLE);
        assertThat(d.disableNnpack()).isTrue();
        assertThat(d.reason()).contains("no caches listed").contains("subsampled");
        assertThat(ConvolutionBackward.decide(CpuCacheTopology.read(root.resolve("absent")), null, null).mode())
                .isEqualTo(Mode.SUBSAMPLE);
    }

    @Test
    void cachesWithoutSizesCountAsNotListed(@TempDir Path root) throws IOException {
        cache(root, 0, 1, "Data", "");
        cache(root, 2, 2, "Unified", "garbage");
        CpuCacheTopology t = CpuCacheTopology.read(root);
        assertThat(t.dataCaches()).hasSize(2);
        assertThat(t.listsDataCaches()).isFalse();
        assertThat(ConvolutionBackward.decide(t, null, "auto").mode()).isEqualTo(Mode.SUBSAMPLE);
    }

    @Test
    void anIsaCapBelowAvx2KeepsOneDnnAndAnOverrideWins(@TempDir Path root) throws IOException {
        CpuCacheTopology none = CpuCacheTopology.read(root);
        CpuCacheTopology healthy = CpuCacheTopology.read(healthyMachine(root.resolve("h")));
        assertThat(ConvolutionBackward.decide(none, "avx", null).mode()).isEqualTo(Mode.ONEDNN);
        assertThat(ConvolutionBackward.decide(none, "SSE41", null).mode()).isEqualTo(Mode.ONEDNN);
        // measured on such a machine: AVX2, AVX2_VNNI, AVX512_CORE and AVX512_CORE_BF16 caps still crash
        assertThat(ConvolutionBackward.decide(none, "AVX2", null).mode()).isEqualTo(Mode.SUBSAMPLE);
        assertThat(ConvolutionBackward.decide(none, "AVX512_CORE", null).mode()).isEqualTo(Mode.SUBSAMPLE);
        assertThat(ConvolutionBackward.decide(healthy, null, "subsample").mode()).isEqualTo(Mode.SUBSAMPLE);
        assertThat(ConvolutionBackward.decide(none, null, "onednn").mode()).isEqualTo(Mode.ONEDNN);
        assertThat(ConvolutionBackward.decide(healthy, null, "NATIVE").mode()).isEqualTo(Mode.NATIVE);
        assertThat(ConvolutionBackward.decide(healthy, null, "native").disableNnpack()).isFalse();
        assertThatThrownBy(() -> ConvolutionBackward.decide(healthy, null, "mkl"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(ConvolutionBackward.PROPERTY).hasMessageContaining("'mkl'");
    }

    @Test
    void sysfsSizesParse() {
        assertThat(CpuCacheTopology.parseSize("48K")).isEqualTo(48 * 1024);
        assertThat(CpuCacheTopology.parseSize("32M")).isEqualTo(32L * 1024 * 1024);
        assertThat(CpuCacheTopology.parseSize("512")).isEqualTo(512);
        assertThat(CpuCacheTopology.parseSize("")).isZero();
        assertThat(CpuCacheTopology.parseSize("xK")).isZero();
    }

    /**
     * The native backward gives oneDNN's gradients (same mathematics, other summation order) for a strided 1x1
     * convolution (the kind that crashes) small enough not to crash, and leaves the mkldnn switch as it found it.
     */
    @Test
    void theNativeBackwardMatchesOneDnnAndRestoresTheSwitch() {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(0);
            Conv2dOptions o = new Conv2dOptions(64, 128, new LongPointer(1L, 1L));
            o.stride().put(new long[]{2, 2});
            Conv2dImpl conv = new Conv2dImpl(o);
            Tensor x = randn(2, 64, 15, 17);
            Tensor up = randn(2, 128, 8, 9);
            float[][] grads = new float[2][];
            float[][] inputGrads = new float[2][];
            Mode[] modes = {Mode.ONEDNN, Mode.NATIVE};
            assertThat(globalContext().userEnabledMkldnn()).isTrue();
            for (int i = 0; i < 2; i++) {
                Tensor xi = x.clone().requires_grad_(true);
                conv.zero_grad(true);
                ConvolutionBackward.backward(conv.forward(xi).mul(up).sum(), modes[i]);
                assertThat(globalContext().userEnabledMkldnn()).isTrue();
                grads[i] = Tensors.toFloatArray(conv.weight().grad());
                inputGrads[i] = Tensors.toFloatArray(xi.grad());
            }
            assertClose(grads[1], grads[0]);
            assertClose(inputGrads[1], inputGrads[0]);
        }
    }

    /**
     * The subsampled stride-1 form of a strided 1x1 convolution gives the strided one's output and gradients (same
     * products, other summation order), for odd and even sizes.
     */
    @Test
    void theSubsampledFormOfAStridedPointwiseConvolutionMatchesIt() {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(0);
            Conv2dOptions o = new Conv2dOptions(64, 96, new LongPointer(1L, 1L));
            o.stride().put(new long[]{2, 2});
            o.bias().put(false);
            Conv2dImpl conv = new Conv2dImpl(o);
            for (long[] hw : new long[][]{{15, 17}, {14, 16}}) {
                Tensor x = randn(2, 64, hw[0], hw[1]);
                Tensor up = randn(2, 96, (hw[0] + 1) / 2, (hw[1] + 1) / 2);
                float[][] out = new float[2][], wGrad = new float[2][], xGrad = new float[2][];
                Mode[] modes = {Mode.ONEDNN, Mode.SUBSAMPLE};
                for (int i = 0; i < 2; i++) {
                    Tensor xi = x.clone().requires_grad_(true);
                    conv.zero_grad(true);
                    Tensor y = ConvolutionBackward.stridedPointwise(conv, xi, modes[i]);
                    assertThat(y.sizes().vec().get()).containsExactly(2, 96, (hw[0] + 1) / 2, (hw[1] + 1) / 2);
                    y.mul(up).sum().backward();
                    out[i] = Tensors.toFloatArray(y);
                    wGrad[i] = Tensors.toFloatArray(conv.weight().grad());
                    xGrad[i] = Tensors.toFloatArray(xi.grad());
                }
                assertClose(out[1], out[0]);
                assertClose(wGrad[1], wGrad[0]);
                assertClose(xGrad[1], xGrad[0]);
            }
            Tensor x = randn(1, 64, 9, 9);
            assertThat(ConvolutionBackward.stridedPointwise(conv, x, Mode.ONEDNN).equal(conv.forward(x)))
                    .as("oneDNN's mode is the plain forward, bit for bit").isTrue();
        }
    }

    private static void assertClose(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double maxAbs = 0;
        for (float v : expected) maxAbs = Math.max(maxAbs, Math.abs(v));
        for (int i = 0; i < actual.length; i++) {
            assertThat((double) actual[i]).as("element %d", i).isCloseTo(expected[i],
                    org.assertj.core.data.Offset.offset(1e-5 * maxAbs + 1e-6));
        }
    }
}
