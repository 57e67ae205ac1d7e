package dev.frcnn.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.frcnn.testing.FuzzFiles;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.bytedeco.pytorch.global.torch.arange;

/**
 * Coverage-guided fuzzing (Jazzer) of our {@code .ckpt} reader, {@link Checkpoints#load}. Property: every input
 * either loads or raises {@link WeightsFormatException}; nothing else. Seeds: checkpoints written by
 * {@link Checkpoints#save} (float, int64 and 0-d tensors, metadata, a blob). See {@code docs/fuzzing.md}.
 */
class CheckpointsFuzzTest {
    private static final FuzzFiles FILES = new FuzzFiles("frcnn-fuzz-ckpt");

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "5s")
    void loadCheckpoint(byte[] data) throws IOException {
        Path f = FILES.write("input.ckpt", data);
        try (PointerScope s = new PointerScope()) {
            Checkpoints.load(f);
        } catch (WeightsFormatException expected) {
            // the project's typed error: fine
        }
    }

    static Stream<Arguments> seeds() throws IOException {
        Path dir = Files.createTempDirectory("frcnn-fuzz-ckpt-seeds");
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            t.put("a.weight", arange(new org.bytedeco.pytorch.Scalar(6)).to(ScalarType.Float).view(2, 3));
            t.put("a.count", arange(new org.bytedeco.pytorch.Scalar(3)));
            t.put("b", arange(new org.bytedeco.pytorch.Scalar(1)).to(ScalarType.Double).view(new long[]{}));
            ObjectNode meta = new ObjectMapper().createObjectNode();
            meta.put("kind", "frcnn-checkpoint").put("epoch", 3).putArray("class_names").add("cat").add("dog");
            Path a = dir.resolve("a.ckpt"), b = dir.resolve("b.ckpt");
            Checkpoints.save(a, t, meta, Map.of("optimizer.pt", new byte[]{1, 2, 3, 4}));
            Checkpoints.save(b, Map.of("x", t.get("a.weight")), null);
            return Stream.of(Arguments.of((Object) Files.readAllBytes(a)), Arguments.of((Object) Files.readAllBytes(b)));
        }
    }
}
