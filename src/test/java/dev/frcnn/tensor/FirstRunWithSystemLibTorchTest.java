package dev.frcnn.tensor;

import dev.frcnn.testing.ChildJvm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The first run on an empty JavaCPP cache loads only the presets' LibTorch, whatever the system has: a child JVM
 * with {@code -Dorg.bytedeco.javacpp.cachedir=<empty dir>} runs {@code bench --what ops --json}, exits 0, and has
 * mapped no {@code libtorch*}/{@code libc10*} from outside that cache. Without {@link NativeLibraries} this
 * crashed with SIGSEGV on a machine with Debian's {@code libtorch-dev} (the check is only sharp on such a machine:
 * {@code apt-get install libtorch-dev} or {@code python3-torch}). Slow: it extracts about 450 MB and takes
 * 20-60 s.
 */
@Tag("slow")
class FirstRunWithSystemLibTorchTest {
    @TempDir
    Path dir;

    @Test
    void firstRunOnAnEmptyCacheLoadsOnlyThePresetsLibraries() throws Exception {
        Path cache = Files.createDirectories(dir.resolve("javacpp-cache"));
        Path log = dir.resolve("child.log");
        List<String> cmd = ChildJvm.command("1g", List.of("-Dorg.bytedeco.javacpp.cachedir=" + cache),
                "dev.frcnn.testing.LibTorchProbe", List.of("bench", "--what", "ops", "--json"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        String out = Files.readString(log);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("{\"what\":\"ops\"");
        List<String> mapped = out.lines().filter(l -> l.startsWith("mapped: ")).map(l -> l.substring(8)).toList();
        assertThat(mapped).as(out).isNotEmpty().anyMatch(m -> m.endsWith("libtorch_cpu.so"))
                .allMatch(m -> m.startsWith(cache.toString()), "inside the fresh JavaCPP cache " + cache);
    }
}
