package dev.frcnn.tensor;

import dev.frcnn.config.Config;
import dev.frcnn.config.ConfigException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.MemoryFormat;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.is_autocast_cache_enabled;
import static org.bytedeco.pytorch.global.torch.is_autocast_enabled;
import static org.bytedeco.pytorch.global.torch.randn;

/** The precision setting, the CPU check and the autocast region ({@link Precision}, {@link Bf16Support}, {@link Autocast}). */
class AutocastTest {
    private static final Device CPU = new Device("cpu");

    @Test
    void configPrecisionDefaultsToFp32AndRejectsOtherNames() {
        assertThat(Config.defaults().precision()).isEqualTo("fp32");
        assertThat(Config.defaults().precisionMode()).isEqualTo(Precision.FP32);
        assertThat(Config.defaults().withOverrides(List.of("precision=bf16")).precisionMode()).isEqualTo(Precision.BF16);
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("precision=fp16")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("precision must be one of fp32, bf16, got fp16");
        assertThatThrownBy(() -> Precision.fromName("half")).hasMessageContaining("precision must be one of fp32, bf16");
    }

    @Test
    void nativeBf16NeedsAvx512Bf16OrAmxAndAnAvx512LibTorch() {
        assertThat(Bf16Support.probe(Set.of("avx512f", "avx512_bf16"), "AVX512", null).nativeBf16()).isTrue();
        assertThat(Bf16Support.probe(Set.of("amx_bf16", "amx_tile"), "AVX512", null).nativeBf16()).isTrue();
        assertThat(Bf16Support.probe(Set.of("avx512f", "avx2"), "AVX512", null).nativeBf16()).as("no bf16 ISA").isFalse();
        assertThat(Bf16Support.probe(Set.of("avx512_bf16"), "AVX2", null).nativeBf16()).as("AVX2 LibTorch").isFalse();
        assertThat(Bf16Support.probe(Set.of("amx_bf16", "sse"), "AVX512", null).flags()).containsExactly("amx_bf16");
        assertThat(Bf16Support.probe(Set.of("avx512_bf16"), "AVX512", "avx512_core_bf16").nativeBf16()).isTrue();
        assertThat(Bf16Support.probe(Set.of("avx512_bf16"), "AVX512", "AVX2").nativeBf16()).as("oneDNN capped").isFalse();
        assertThat(Bf16Support.probe(Set.of("avx512_bf16"), "AVX512", "AVX2").describe())
                .endsWith("oneDNN ISA capped at AVX2");
        assertThat(Bf16Support.cpu().describe()).startsWith("CPU bfloat16: ");
    }

    @Test
    void fp32RegionChangesNothing() {
        try (Autocast ac = Autocast.enter(Precision.FP32, CPU)) {
            assertThat(is_autocast_enabled(DeviceType.CPU)).isFalse();
        }
        assertThat(Autocast.effective(Precision.FP32, CPU)).isEqualTo(Precision.FP32);
        try (PointerScope s = new PointerScope()) {
            Tensor x = randn(1, 3, 4, 5);
            assertThat(Autocast.convLayout(x).equals(x)).as("same tensor outside a region").isTrue();
            assertThat(Autocast.toFloat(x).equals(x)).as("float32 contiguous input is returned as is").isTrue();
        }
    }

    /**
     * Where the CPU has native bfloat16: the region runs linear layers in bf16 and restores the state. Where it has
     * not: the region is float32 and changes nothing, bit for bit ({@code Bf16FallbackTest} checks that end to end,
     * with its one warning, on every machine).
     */
    @Test
    void bf16RegionRunsLinearInBf16AndRestoresTheStateOnClose() {
        if (!Bf16Support.cpu().nativeBf16()) {
            assertBf16RegionIsFloat32();
            return;
        }
        assertThat(Autocast.effective(Precision.BF16, CPU)).isEqualTo(Precision.BF16);
        boolean cacheBefore = is_autocast_cache_enabled();
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            LinearImpl fc = new LinearImpl(8, 4);
            Tensor x = randn(2, 8);
            Tensor ref = fc.forward(x);
            try (Autocast outer = Autocast.enter(Precision.BF16, CPU)) {
                assertThat(is_autocast_enabled(DeviceType.CPU)).isTrue();
                assertThat(is_autocast_cache_enabled()).as("cast cache off inside").isFalse();
                Tensor y = fc.forward(x);
                assertThat(Tensors.isType(y, ScalarType.BFloat16)).as("linear output dtype").isTrue();
                Tensor f = Autocast.toFloat(y);
                assertThat(Tensors.isType(f, ScalarType.Float)).isTrue();
                assertThat(f.sub(ref).abs().max().item_double()).as("bf16 linear close to fp32")
                        .isLessThan(0.05 * ref.abs().max().item_double() + 1e-3);
                Tensor img = randn(1, 3, 4, 5);
                assertThat(Autocast.convLayout(img).is_contiguous(MemoryFormat.ChannelsLast)).isTrue();
                try (Autocast inner = Autocast.enter(Precision.BF16, CPU)) {
                    assertThat(is_autocast_enabled(DeviceType.CPU)).isTrue();
                }
                assertThat(is_autocast_enabled(DeviceType.CPU)).as("inner close keeps the outer region").isTrue();
            }
            assertThat(is_autocast_enabled(DeviceType.CPU)).isFalse();
            assertThat(is_autocast_cache_enabled()).isEqualTo(cacheBefore);
            assertThat(Tensors.isType(fc.forward(x), ScalarType.Float)).as("float32 again after the region").isTrue();
        }
    }

    private static void assertBf16RegionIsFloat32() {
        assertThat(Autocast.effective(Precision.BF16, CPU)).isEqualTo(Precision.FP32);
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            LinearImpl fc = new LinearImpl(8, 4);
            Tensor x = randn(2, 8);
            Tensor ref = fc.forward(x);
            try (Autocast region = Autocast.enter(Precision.BF16, CPU)) {
                assertThat(is_autocast_enabled(DeviceType.CPU)).isFalse();
                Tensor y = fc.forward(x);
                assertThat(Tensors.isType(y, ScalarType.Float)).isTrue();
                assertThat(y.equal(ref)).as("bit for bit the float32 result").isTrue();
            }
        }
    }
}
