package dev.frcnn.tensor;

import dev.frcnn.testing.ChildJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link PrimitiveCache}, in child JVMs with an environment of the test's making: the bootstrap sets oneDNN's cache
 * capacity in the C environment, keeps a capacity the user gave, and oneDNN really uses the value (counted from its
 * {@code profile_create} log).
 */
class PrimitiveCacheTest {
    @TempDir
    Path dir;

    @Test
    void theBootstrapSetsTheCapacityUnlessTheUserGaveOne() throws Exception {
        assertThat(probe(Map.of(), List.of()))
                .contains("env ONEDNN_PRIMITIVE_CACHE_CAPACITY=" + PrimitiveCache.CAPACITY);
        assertThat(probe(Map.of(PrimitiveCache.VARIABLE, "77"), List.of()))
                .contains("env ONEDNN_PRIMITIVE_CACHE_CAPACITY=77");
        assertThat(probe(Map.of(PrimitiveCache.LEGACY_VARIABLE, "55"), List.of()))
                .contains("env ONEDNN_PRIMITIVE_CACHE_CAPACITY=null", "env DNNL_PRIMITIVE_CACHE_CAPACITY=55");
        assertThat(probe(Map.of(), List.of("-Dfrcnn.primitiveCacheCapacity=0")))
                .contains("env ONEDNN_PRIMITIVE_CACHE_CAPACITY=null");
    }

    /**
     * Six input sizes, twice over: with room for them, oneDNN compiles each convolution once (the second round hits
     * its cache); with a capacity of 2, set through the system property, every convolution of the second round is
     * compiled again. So the value set with {@code setenv} after the JVM started is the one oneDNN uses.
     */
    @Test
    void oneDnnUsesTheCapacity() throws Exception {
        String roomy = probe(Map.of("ONEDNN_VERBOSE", "profile_create"), List.of(), "conv", "6");
        String tiny = probe(Map.of("ONEDNN_VERBOSE", "profile_create"),
                List.of("-Dfrcnn.primitiveCacheCapacity=2"), "conv", "6");
        long convMissesRoomy = convMisses(roomy);
        long convMissesTiny = convMisses(tiny);
        assertThat(roomy).contains("done");
        assertThat(tiny).contains("done", "env ONEDNN_PRIMITIVE_CACHE_CAPACITY=2");
        assertThat(convMissesRoomy).as(roomy).isEqualTo(6);
        assertThat(convMissesTiny).as(tiny).isEqualTo(12);
    }

    /** Convolution primitives compiled for the counted inputs (height 32; the probe's warm-up has height 31). */
    private static long convMisses(String log) {
        return log.lines().filter(l -> l.contains("create:cache_miss") && l.contains(",convolution,")
                && l.contains("_ih32oh30")).count();
    }

    private String probe(Map<String, String> env, List<String> jvmOptions, String... args) throws Exception {
        List<String> cmd = ChildJvm.command("512m", jvmOptions, "dev.frcnn.testing.PrimitiveCacheProbe", List.of(args));
        Path log = Files.createTempFile(dir, "probe", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().remove(PrimitiveCache.VARIABLE);
        pb.environment().remove(PrimitiveCache.LEGACY_VARIABLE);
        pb.environment().putAll(env);
        Process p = pb.start();
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        String out = Files.readString(log);
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }
}
