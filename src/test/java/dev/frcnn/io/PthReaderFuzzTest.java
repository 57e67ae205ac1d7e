package dev.frcnn.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.frcnn.testing.FuzzFiles;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.frcnn.io.TorchFileWriter.floatsLE;
import static dev.frcnn.io.TorchFileWriter.longsLE;

/**
 * Coverage-guided fuzzing (Jazzer) of {@link PthReader#read}, zip and legacy layouts. Property: every input either
 * loads or raises {@link WeightsFormatException}; any other exception or error (including OutOfMemoryError
 * under the fuzz JVM's small heap) is a finding. Seeds: a small zip file and a small legacy file, both with views,
 * several dtypes and a 0-d tensor. See {@code docs/fuzzing.md}.
 */
class PthReaderFuzzTest {
    private static final FuzzFiles FILES = new FuzzFiles("frcnn-fuzz-pth");

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "5s")
    void readPth(byte[] data) throws IOException {
        Path f = FILES.write("input.pth", data);
        try (PointerScope s = new PointerScope()) {
            PthReader.read(f);
        } catch (WeightsFormatException expected) {
            // the project's typed error: fine
        }
    }

    static Stream<Arguments> seeds() throws IOException {
        PickleBuilder zipPickle = new PickleBuilder().proto(2).orderedDict().mark();
        zipPickle.str("w").tensor("FloatStorage", "0", 6, 0, new long[]{2, 3}, new long[]{3, 1}, false);
        zipPickle.str("n").tensor("LongStorage", "1", 2, 0, new long[]{2}, new long[]{1}, false);
        zipPickle.str("s").tensor("FloatStorage", "0", 6, 4, new long[]{}, new long[]{}, false);
        byte[] zp = zipPickle.setitems().stop().toBytes();
        PickleBuilder legacyPickle = new PickleBuilder().proto(2).orderedDict().mark();
        legacyPickle.str("w").tensor("FloatStorage", "0", 6, 0, new long[]{3, 2}, new long[]{1, 3}, true);
        legacyPickle.str("n").tensor("LongStorage", "1", 2, 0, new long[]{2}, new long[]{1}, true);
        byte[] lp = legacyPickle.setitems().stop().toBytes();
        Map<String, byte[]> storages = new LinkedHashMap<>();
        storages.put("0", floatsLE(0f, 1f, 2f, 3f, 4f, 5f));
        storages.put("1", longsLE(7L, -(1L << 40)));
        Path dir = Files.createTempDirectory("frcnn-fuzz-pth-seeds");
        byte[] zip = Files.readAllBytes(TorchFileWriter.writeZip(dir.resolve("z.pth"), zp, storages, "little"));
        byte[] legacy = Files.readAllBytes(TorchFileWriter.writeLegacy(dir.resolve("l.pth"), lp, List.of("0", "1"),
                Map.of("0", 6L, "1", 2L), storages));
        byte[] plain = new PickleBuilder().proto(2).bigInteger(new BigInteger("1950a86a20f9469cfc6c", 16)).stop().toBytes();
        return Stream.of(Arguments.of((Object) zip), Arguments.of((Object) legacy), Arguments.of((Object) plain));
    }
}
