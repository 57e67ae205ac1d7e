package dev.frcnn.io;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reads the reference's {@code torch.save} fixtures (zip and legacy format) and compares every tensor with
 * {@code rpn_state_dict.json}: key order, shape, dtype, sha256 of the little-endian bytes, float64 sum and
 * sample values. Everything (file names, keys, shapes, hashes) comes from the fixture.
 */
class PthParityTest {
    private static final Golden G = Golden.load("rpn_state_dict.json");

    static List<String> files() {
        List<String> names = new ArrayList<>();
        G.params().path("files").fieldNames().forEachRemaining(names::add);
        assertThat(names).as("rpn_state_dict.json params.files").isNotEmpty();
        return names;
    }

    @ParameterizedTest
    @MethodSource("files")
    void fileMatchesTheFixtureDescription(String name) throws Exception {
        Path file = Golden.file(name);
        JsonNode info = G.params().path("files").path(name);
        assertThat(Files.size(file)).as(name + " size").isEqualTo(info.path("size_bytes").asLong());
        assertThat(sha256(Files.readAllBytes(file))).as(name + " sha256").isEqualTo(info.path("sha256").asText());
    }

    @ParameterizedTest
    @MethodSource("files")
    void stateDictMatchesFixture(String name) throws Exception {
        Path file = Golden.file(name);
        JsonNode entries = G.params().path("entries");
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> sd = PthReader.readStateDict(file);
            List<String> expectedKeys = new ArrayList<>();
            entries.forEach(e -> expectedKeys.add(e.path("key").asText()));
            assertThat(new ArrayList<>(sd.keySet())).as(name + " key order").containsExactlyElementsOf(expectedKeys);

            for (JsonNode e : entries) {
                String key = e.path("key").asText();
                Tensor t = sd.get(key);
                long[] shape = longs(e.path("shape"));
                assertThat(Tensors.shape(t)).as(key + " shape").containsExactly(shape);
                assertThat(t.numel()).as(key + " numel").isEqualTo(e.path("numel").asLong());
                assertThat(e.path("dtype").asText()).as(key + " fixture dtype").isEqualTo("float32");
                assertThat(Tensors.isType(t, ScalarType.Float)).as(key + " is float32, got " + Tensors.typeName(t)).isTrue();

                float[] v = Tensors.toFloatArray(t);
                ByteBuffer le = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : v) le.putFloat(f);
                assertThat(sha256(le.array())).as(key + " sha256 of little-endian float32 bytes")
                        .isEqualTo(e.path("sha256_le_bytes").asText());

                double sum = 0, abs = 0;
                for (float f : v) {
                    sum += f;
                    abs += Math.abs(f);
                }
                double expectedSum = e.path("sum_float64").asDouble();
                assertThat(Math.abs(sum - expectedSum)).as(key + " float64 sum " + sum + " vs " + expectedSum)
                        .isLessThanOrEqualTo(1e-9 * Math.max(1, abs));

                long[] idx = longs(e.path("sample_index"));
                JsonNode vals = e.path("sample_value");
                assertThat(idx.length).isEqualTo(vals.size());
                for (int i = 0; i < idx.length; i++) {
                    assertThat(v[(int) idx[i]]).as(key + "[" + idx[i] + "]").isEqualTo((float) vals.get(i).asDouble());
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("files")
    void zipFileHasTheFixtureEntries(String name) throws IOException {
        Path file = Golden.file(name);
        boolean isZip;
        try (var in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(2);
            isZip = head.length == 2 && head[0] == 'P' && head[1] == 'K';
        }
        if (!isZip) return; // the legacy file: no entries to compare
        List<String> entries = new ArrayList<>();
        try (ZipFile z = new ZipFile(file.toFile())) {
            for (ZipEntry e : Collections.list(z.entries())) entries.add(e.getName());
        }
        List<String> expected = new ArrayList<>();
        G.params().path("zip_entry_names").forEach(n -> expected.add(n.asText()));
        assertThat(entries).containsExactlyInAnyOrderElementsOf(expected);
    }

    private static long[] longs(JsonNode arr) {
        long[] r = new long[arr.size()];
        for (int i = 0; i < r.length; i++) r[i] = arr.get(i).asLong();
        return r;
    }

    private static String sha256(byte[] b) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}
