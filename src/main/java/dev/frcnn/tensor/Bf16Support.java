package dev.frcnn.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

import static org.bytedeco.pytorch.global.torch.get_cpu_capability;

/**
 * Whether this machine's CPU computes bfloat16 natively, which is what makes {@link Precision#BF16} faster than
 * float32 on the CPU: oneDNN's bfloat16 convolution and matmul kernels need AVX-512 with the {@code AVX512_BF16}
 * dot-product instructions ({@code avx512_core_bf16}) or AMX tiles ({@code avx512_core_amx}). Without them oneDNN
 * emulates bfloat16 with float32 arithmetic plus conversions, which is slower than plain float32.
 *
 * <p>Read once from the kernel's CPU flags ({@code /proc/cpuinfo}: {@code avx512_bf16}, {@code amx_bf16}),
 * LibTorch's CPU capability ({@code at::get_cpu_capability()}, which must be {@code AVX512}: LibTorch only
 * dispatches its AVX-512 kernels, and oneDNN only its bfloat16 ISAs, on such a CPU) and oneDNN's ISA cap
 * ({@code ONEDNN_MAX_CPU_ISA} or {@code DNNL_MAX_CPU_ISA} in the environment: a cap below
 * {@code AVX512_CORE_BF16} keeps oneDNN off the bfloat16 instructions, so bfloat16 would be emulated).
 */
public final class Bf16Support {
    private Bf16Support() {}

    private static final Path CPUINFO = Path.of("/proc/cpuinfo");
    private static volatile Report report;

    /**
     * What was found.
     *
     * @param nativeBf16 whether bfloat16 convolutions run on native instructions (AVX512_BF16 or AMX-BF16 with an
     *     AVX-512 LibTorch)
     * @param flags the relevant CPU flags found ({@code avx512_bf16}, {@code amx_bf16}, {@code amx_tile}), sorted
     * @param libtorchCapability LibTorch's CPU capability ({@code DEFAULT}, {@code AVX2}, {@code AVX512}, ...)
     */
    public record Report(boolean nativeBf16, Set<String> flags, String libtorchCapability, String oneDnnIsaCap) {
        /** One line for users: what the CPU has and what bf16 will do. */
        public String describe() {
            return "CPU bfloat16: " + (flags.isEmpty() ? "no AVX512_BF16/AMX-BF16 flags" : String.join(" ", flags))
                    + ", LibTorch CPU capability " + libtorchCapability
                    + (oneDnnIsaCap == null ? "" : ", oneDNN ISA capped at " + oneDnnIsaCap);
        }
    }

    /** oneDNN ISA caps ({@code ONEDNN_MAX_CPU_ISA} values) that still allow its native bfloat16 kernels. */
    private static final Set<String> BF16_ISA_CAPS = Set.of("AVX512_CORE_BF16", "AVX512_CORE_FP16",
            "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16",
            "AVX10_2_512", "AVX10_2_512_AMX_2", "ALL");

    /** The CPU's bfloat16 support (computed once per process). */
    public static Report cpu() {
        Report r = report;
        if (r == null) {
            String cap = System.getenv("ONEDNN_MAX_CPU_ISA");
            if (cap == null) cap = System.getenv("DNNL_MAX_CPU_ISA");
            r = probe(readFlags(), get_cpu_capability().getString(), cap);
            report = r;
        }
        return r;
    }

    /**
     * Decides from CPU flags and LibTorch's capability string (the testable part of {@link #cpu()}).
     *
     * @param cpuFlags the {@code flags} of {@code /proc/cpuinfo}
     * @param libtorchCapability e.g. {@code AVX512}
     * @param oneDnnIsaCap the value of {@code ONEDNN_MAX_CPU_ISA} (or {@code DNNL_MAX_CPU_ISA}), null when unset
     */
    static Report probe(Set<String> cpuFlags, String libtorchCapability, String oneDnnIsaCap) {
        Set<String> found = new TreeSet<>();
        for (String f : new String[]{"avx512_bf16", "amx_bf16", "amx_tile"}) {
            if (cpuFlags.contains(f)) found.add(f);
        }
        boolean isa = found.contains("avx512_bf16") || found.contains("amx_bf16");
        String cap = oneDnnIsaCap == null || oneDnnIsaCap.isBlank() ? null : oneDnnIsaCap.trim().toUpperCase(Locale.ROOT);
        boolean capAllows = cap == null || BF16_ISA_CAPS.contains(cap);
        return new Report(isa && capAllows && libtorchCapability.startsWith("AVX512"), Set.copyOf(found),
                libtorchCapability, cap);
    }

    private static Set<String> readFlags() {
        Set<String> flags = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(CPUINFO)) {
                if (line.startsWith("flags")) {
                    int colon = line.indexOf(':');
                    for (String f : line.substring(colon + 1).trim().split("\\s+")) flags.add(f);
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux or not readable: no flags, so no native bf16 is assumed
        }
        return flags;
    }
}
