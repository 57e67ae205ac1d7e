package dev.frcnn.tensor;

import dev.frcnn.testing.ChildJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code precision = bf16} on a CPU without native bfloat16 runs float32, bit for bit, and says so in one warning
 * line. Exercised on every machine: the child JVM's oneDNN is capped at AVX2 ({@code ONEDNN_MAX_CPU_ISA}), which
 * {@link Bf16Support} reads as "no native bfloat16" as oneDNN does.
 */
class Bf16FallbackTest {
    @TempDir
    Path dir;

    @Test
    void bf16WithoutNativeSupportIsFloat32WithOneWarning() throws Exception {
        List<String> cmd = ChildJvm.command("dev.frcnn.testing.Bf16FallbackProbe", List.of());
        Path log = Files.createTempFile(dir, "probe", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().remove("DNNL_MAX_CPU_ISA");
        pb.environment().put("ONEDNN_MAX_CPU_ISA", "AVX2");
        Process p = pb.start();
        assertThat(p.waitFor(3, TimeUnit.MINUTES)).isTrue();
        String out = Files.readString(log);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).as(out).contains("effective=fp32", "forward identical=true", "losses identical=true");
        assertThat(out.lines().filter(l -> l.contains("precision=bf16 requested, but this CPU has no native bfloat16")))
                .as(out).hasSize(1);
        assertThat(out).contains("oneDNN ISA capped at AVX2");
    }
}
