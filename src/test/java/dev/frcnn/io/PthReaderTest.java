package dev.frcnn.io;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.frcnn.io.TorchFileWriter.doublesLE;
import static dev.frcnn.io.TorchFileWriter.floatsBE;
import static dev.frcnn.io.TorchFileWriter.floatsLE;
import static dev.frcnn.io.TorchFileWriter.longsLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link PthReader} on files written here by hand: valid ones (views sharing a storage, several dtypes, both
 * layouts, a reference-style checkpoint) and broken or hostile ones, which must fail with a
 * {@link WeightsFormatException} whose message names the file and the problem.
 */
class PthReaderTest {
    @TempDir
    Path dir;

    private static final long[] S23 = {2, 3}, ST23 = {3, 1};

    /** OrderedDict with: a [2,3] view, its transpose, a slice at offset 4 (one storage); Long; Half; Bool; 0-d Double. */
    private static byte[] mixedStateDict(boolean legacy) {
        PickleBuilder p = new PickleBuilder().proto(2).orderedDict().mark();
        p.str("a").tensor("FloatStorage", "0", 6, 0, S23, ST23, legacy);
        p.str("a_t").tensor("FloatStorage", "0", 6, 0, new long[]{3, 2}, new long[]{1, 3}, legacy);
        p.str("tail").tensor("FloatStorage", "0", 6, 4, new long[]{2}, new long[]{1}, legacy);
        p.str("count").tensor("LongStorage", "1", 2, 0, new long[]{2}, new long[]{1}, legacy);
        p.str("half").tensor("HalfStorage", "2", 2, 0, new long[]{2}, new long[]{1}, legacy);
        p.str("mask").tensor("BoolStorage", "3", 3, 0, new long[]{3}, new long[]{1}, legacy);
        p.str("scalar").tensor("DoubleStorage", "4", 1, 0, new long[]{}, new long[]{}, legacy);
        return p.setitems().stop().toBytes();
    }

    private static Map<String, byte[]> mixedStorages() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("0", floatsLE(0f, 1f, 2f, 3f, 4f, 5f));
        m.put("1", longsLE(7L, -(1L << 40)));
        m.put("2", new byte[]{0x00, 0x3E, 0x00, (byte) 0xC0}); // 1.5, -2.0 as little-endian float16
        m.put("3", new byte[]{1, 0, 1});
        m.put("4", doublesLE(0.25));
        return m;
    }

    private static Map<String, Long> mixedCounts() {
        return Map.of("0", 6L, "1", 2L, "2", 2L, "3", 3L, "4", 1L);
    }

    private void assertMixed(Map<String, Tensor> sd) {
        assertThat(sd.keySet()).containsExactly("a", "a_t", "tail", "count", "half", "mask", "scalar");
        assertThat(Tensors.shape(sd.get("a"))).containsExactly(2, 3);
        assertThat(Tensors.toFloatArray(sd.get("a"))).containsExactly(0f, 1f, 2f, 3f, 4f, 5f);
        assertThat(Tensors.toFloatArray(sd.get("a_t"))).containsExactly(0f, 3f, 1f, 4f, 2f, 5f);
        assertThat(Tensors.toFloatArray(sd.get("tail"))).containsExactly(4f, 5f);
        assertThat(Tensors.isType(sd.get("count"), ScalarType.Long)).isTrue();
        assertThat(Tensors.toLongArray(sd.get("count"))).containsExactly(7L, -(1L << 40));
        assertThat(Tensors.isType(sd.get("half"), ScalarType.Half)).isTrue();
        assertThat(Tensors.toFloatArray(sd.get("half"))).containsExactly(1.5f, -2f);
        assertThat(Tensors.isType(sd.get("mask"), ScalarType.Bool)).isTrue();
        assertThat(Tensors.toLongArray(sd.get("mask"))).containsExactly(1L, 0L, 1L);
        assertThat(sd.get("scalar").dim()).isZero();
        assertThat(Tensors.toDoubleArray(sd.get("scalar"))).containsExactly(0.25);
        // views of one storage share memory, as in PyTorch
        sd.get("a").add_(new Scalar(10.0));
        assertThat(Tensors.toFloatArray(sd.get("a_t"))).containsExactly(10f, 13f, 11f, 14f, 12f, 15f);
        assertThat(Tensors.toFloatArray(sd.get("tail"))).containsExactly(14f, 15f);
    }

    @Test
    void readsZipWithViewsAndDtypes() throws IOException {
        Path f = TorchFileWriter.writeZip(dir.resolve("mixed.pth"), mixedStateDict(false), mixedStorages(), "little");
        try (PointerScope s = new PointerScope()) {
            assertMixed(PthReader.readStateDict(f));
        }
    }

    @Test
    void readsLegacyWithViewsAndDtypes() throws IOException {
        Path f = TorchFileWriter.writeLegacy(dir.resolve("mixed_legacy.pth"), mixedStateDict(true),
                List.of("0", "1", "2", "3", "4"), mixedCounts(), mixedStorages());
        try (PointerScope s = new PointerScope()) {
            assertMixed(PthReader.readStateDict(f));
        }
    }

    @Test
    void readsBigEndianZip() throws IOException {
        byte[] pkl = new PickleBuilder().proto(2).orderedDict().mark()
                .str("w").tensor("FloatStorage", "0", 3, 0, new long[]{3}, new long[]{1}, false)
                .setitems().stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("be.pth"), pkl, Map.of("0", floatsBE(1.5f, -2f, 3.25f)), "big");
        try (PointerScope s = new PointerScope()) {
            assertThat(Tensors.toFloatArray(PthReader.readStateDict(f).get("w"))).containsExactly(1.5f, -2f, 3.25f);
        }
    }

    /** The reference's trainer.save(): {'model': state_dict, 'config': {...}, 'other_info': {'best_map': np.float64}}. */
    @Test
    void readsReferenceStyleCheckpoint() throws IOException {
        byte[] bestMap = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.7010524).array();
        PickleBuilder p = new PickleBuilder().proto(2).emptyDict().mark();
        p.str("model").orderedDict().mark()
                .str("head.score.weight").tensor("FloatStorage", "0", 4, 0, new long[]{2, 2}, new long[]{2, 1}, false)
                .setitems();
        p.str("config").emptyDict().mark().str("lr").floating(1e-3).str("use_drop").bool(false)
                .str("voc_data_dir").str("/data/VOC2007").setitems();
        p.str("other_info").emptyDict().mark().str("best_map")
                .global("numpy.core.multiarray", "scalar")
                .global("numpy", "dtype").mark().str("f8").bool(false).bool(true).tuple().reduce()
                .mark().integer(3).str("<").none().none().none().integer(-1).integer(-1).integer(0).tuple().build()
                .global("_codecs", "encode").mark().str(new String(bestMap, StandardCharsets.ISO_8859_1)).str("latin1")
                .tuple().reduce()
                .op(0x86).reduce() // TUPLE2 (dtype, bytes), REDUCE
                .setitems();
        byte[] pkl = p.setitems().stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("fasterrcnn_checkpoint.pth"), pkl,
                Map.of("0", floatsLE(1f, 2f, 3f, 4f)), null);
        try (PointerScope s = new PointerScope()) {
            Object root = PthReader.read(f);
            assertThat(root).isInstanceOf(Map.class);
            Map<?, ?> m = (Map<?, ?>) root;
            assertThat(((Map<?, ?>) m.get("other_info")).get("best_map")).isEqualTo(0.7010524);
            assertThat(((Map<?, ?>) m.get("config")).get("lr")).isEqualTo(1e-3);
            Map<String, Tensor> sd = StateDicts.stateDict(root, f);
            assertThat(sd.keySet()).containsExactly("head.score.weight");
            assertThat(Tensors.toFloatArray(sd.get("head.score.weight"))).containsExactly(1f, 2f, 3f, 4f);
        }
    }

    // ------------------------------------------------------------------ hostile and broken files

    static Stream<Arguments> disallowedGlobals() {
        return Stream.of(
                Arguments.of("os.system", new PickleBuilder().proto(2).global("os", "system")
                        .str("echo pwned").op(0x85).reduce().stop().toBytes()),
                Arguments.of("builtins.eval", new PickleBuilder().proto(2).global("builtins", "eval")
                        .str("1+1").op(0x85).reduce().stop().toBytes()),
                Arguments.of("__builtin__.eval", new PickleBuilder().proto(2).global("__builtin__", "eval")
                        .str("1+1").op(0x85).reduce().stop().toBytes()),
                Arguments.of("builtins.eval", new PickleBuilder().proto(4).stackGlobal("builtins", "eval")
                        .str("1+1").op(0x85).reduce().stop().toBytes()),
                Arguments.of("posix.system", new PickleBuilder().proto(2).mark().str("ls").op('i')
                        .raw("posix\nsystem\n".getBytes(StandardCharsets.UTF_8)).stop().toBytes()),
                Arguments.of("torch.nn.modules.linear.Linear", new PickleBuilder().proto(2).emptyDict().mark()
                        .str("model").global("torch.nn.modules.linear", "Linear").emptyTuple().op(0x81)
                        .setitems().stop().toBytes()));
    }

    @ParameterizedTest
    @MethodSource("disallowedGlobals")
    void rejectsDisallowedGlobalInZip(String global, byte[] pkl) throws IOException {
        Path f = TorchFileWriter.writeZip(dir.resolve("evil.pth"), pkl, Map.of(), null);
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("'" + global + "'");
    }

    @ParameterizedTest
    @MethodSource("disallowedGlobals")
    void rejectsDisallowedGlobalInLegacy(String global, byte[] pkl) throws IOException {
        Path f = TorchFileWriter.writeLegacy(dir.resolve("evil_legacy.pth"), pkl, List.of(), Map.of(), Map.of());
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("'" + global + "'");
    }

    @Test
    void rejectsTruncatedZip() throws IOException {
        Path ok = TorchFileWriter.writeZip(dir.resolve("ok.pth"), mixedStateDict(false), mixedStorages(), null);
        byte[] all = Files.readAllBytes(ok);
        Path f = dir.resolve("truncated.pth");
        Files.write(f, Arrays.copyOf(all, all.length / 2));
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("truncated zip");
    }

    @Test
    void rejectsStorageShorterThanTensor() throws IOException {
        byte[] pkl = new PickleBuilder().proto(2).orderedDict().mark()
                .str("w").tensor("FloatStorage", "0", 4, 0, new long[]{10}, new long[]{1}, false)
                .setitems().stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("short_storage.pth"), pkl, Map.of("0", floatsLE(1, 2, 3, 4)), null);
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("needs 10 elements")
                .hasMessageContaining("storage '0' has only 4");
    }

    @Test
    void rejectsZipEntrySmallerThanDeclaredStorage() throws IOException {
        byte[] pkl = new PickleBuilder().proto(2).orderedDict().mark()
                .str("w").tensor("FloatStorage", "0", 10, 0, new long[]{10}, new long[]{1}, false)
                .setitems().stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("short_entry.pth"), pkl, Map.of("0", floatsLE(1, 2)), null);
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("declares 10 FloatStorage elements (40 bytes)")
                .hasMessageContaining("holds 8 bytes");
    }

    @Test
    void rejectsTensorClaimingHugeSize() throws IOException {
        long big = 1L << 40;
        byte[] overflow = new PickleBuilder().proto(2).orderedDict().mark()
                .str("w").tensor("FloatStorage", "0", 4, 0, new long[]{big, big}, new long[]{big, 1}, false)
                .setitems().stop().toBytes();
        Path f1 = TorchFileWriter.writeZip(dir.resolve("overflow.pth"), overflow, Map.of("0", floatsLE(1, 2, 3, 4)), null);
        assertThatThrownBy(() -> PthReader.read(f1))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f1.toString())
                .hasMessageContaining("absurd tensor size");

        // storage and tensor agree, but claim 4 TB that the file does not hold
        byte[] huge = new PickleBuilder().proto(2).orderedDict().mark()
                .str("w").tensor("FloatStorage", "0", big, 0, new long[]{big}, new long[]{1}, false)
                .setitems().stop().toBytes();
        Path f2 = TorchFileWriter.writeZip(dir.resolve("huge.pth"), huge, Map.of("0", floatsLE(1, 2, 3, 4)), null);
        assertThatThrownBy(() -> PthReader.read(f2))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f2.toString())
                .hasMessageContaining("declares " + big);

        // numel * element size overflows 64 bits
        long absurd = Long.MAX_VALUE / 2;
        byte[] ovf = new PickleBuilder().proto(2).orderedDict().mark()
                .str("w").tensor("DoubleStorage", "0", absurd, 0, new long[]{1}, new long[]{1}, false)
                .setitems().stop().toBytes();
        Path f3 = TorchFileWriter.writeZip(dir.resolve("absurd.pth"), ovf, Map.of("0", doublesLE(1)), null);
        assertThatThrownBy(() -> PthReader.read(f3))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f3.toString())
                .hasMessageContaining("absurd size");

        // the same in a legacy file: the count is checked against the bytes that remain
        Path f4 = TorchFileWriter.writeLegacy(dir.resolve("huge_legacy.pth"), new PickleBuilder().proto(2)
                        .orderedDict().mark()
                        .str("w").tensor("FloatStorage", "0", big, 0, new long[]{big}, new long[]{1}, true)
                        .setitems().stop().toBytes(),
                List.of("0"), Map.of("0", big), Map.of("0", floatsLE(1, 2)));
        assertThatThrownBy(() -> PthReader.read(f4))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f4.toString())
                .hasMessageContaining("claims " + (4 * big) + " bytes");
    }

    @Test
    void rejectsNegativeSize() throws IOException {
        byte[] pkl = new PickleBuilder().proto(2).orderedDict().mark()
                .str("w").tensor("FloatStorage", "0", 4, 0, new long[]{-2}, new long[]{1}, false)
                .setitems().stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("negative.pth"), pkl, Map.of("0", floatsLE(1, 2, 3, 4)), null);
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("negative tensor size");
    }

    @Test
    void rejectsStringLengthBeyondFile() throws IOException {
        byte[] pkl = new PickleBuilder().proto(2).strWithLength(0x7FFF_FFF0L, "abc").stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("long_string.pth"), pkl, Map.of(), null);
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("claims " + 0x7FFF_FFF0L + " bytes");
    }

    @Test
    void rejectsTruncatedLegacyStream() throws IOException {
        Path ok = TorchFileWriter.writeLegacy(dir.resolve("ok_legacy.pth"), mixedStateDict(true),
                List.of("0", "1", "2", "3", "4"), mixedCounts(), mixedStorages());
        byte[] all = Files.readAllBytes(ok);

        Path inData = dir.resolve("truncated_in_data.pth");
        Files.write(inData, Arrays.copyOf(all, all.length - 5)); // inside the last storage blocks
        assertThatThrownBy(() -> PthReader.read(inData))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(inData.toString())
                .hasMessageContaining("remain (truncated or corrupt file)");

        Path inPickle = dir.resolve("truncated_in_pickle.pth");
        Files.write(inPickle, Arrays.copyOf(all, 200)); // inside the main pickle
        assertThatThrownBy(() -> PthReader.read(inPickle))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(inPickle.toString())
                .hasMessageContaining("truncated");
    }

    @Test
    void rejectsLegacyCountDifferentFromPickle() throws IOException {
        Path f = TorchFileWriter.writeLegacy(dir.resolve("bad_count.pth"), mixedStateDict(true),
                List.of("0", "1", "2", "3", "4"), Map.of("0", 5L, "1", 2L, "2", 2L, "3", 3L, "4", 1L), mixedStorages());
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("legacy storage '0' holds 5 elements, but the pickle declares 6");
    }

    @Test
    void rejectsGarbageAndEmptyFiles() throws IOException {
        Path text = Files.writeString(dir.resolve("notes.pth"), "this is not a checkpoint\n");
        assertThatThrownBy(() -> PthReader.read(text))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(text.toString())
                .hasMessageContaining("not a PyTorch weights file");

        Path empty = Files.write(dir.resolve("empty.pth"), new byte[0]);
        assertThatThrownBy(() -> PthReader.read(empty))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(empty.toString())
                .hasMessageContaining("empty file");

        Path plainPickle = Files.write(dir.resolve("plain.pkl"),
                new PickleBuilder().proto(2).emptyDict().stop().toBytes());
        assertThatThrownBy(() -> PthReader.read(plainPickle))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(plainPickle.toString())
                .hasMessageContaining("magic number");

        Path zipWithoutPickle = dir.resolve("other.zip");
        try (var z = new java.util.zip.ZipOutputStream(Files.newOutputStream(zipWithoutPickle))) {
            z.putNextEntry(new java.util.zip.ZipEntry("readme.txt"));
            z.write("hello".getBytes(StandardCharsets.UTF_8));
        }
        assertThatThrownBy(() -> PthReader.read(zipWithoutPickle))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(zipWithoutPickle.toString())
                .hasMessageContaining("data.pkl");
    }

    @Test
    void rejectsSelfContainingListAsDictKey() throws IOException {
        byte[] pkl = new PickleBuilder().proto(2).emptyDict().emptyList().op('q').op(0).op('h').op(0).op('a')
                .integer(1).setitem().stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("unhashable.pth"), pkl, Map.of(), null);
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("unhashable ArrayList");
    }

    @Test
    void cyclicValuesAreKeptAndDeepNestingIsRejected() throws IOException {
        byte[] cyclic = new PickleBuilder().proto(2).emptyList().op('q').op(0).op('h').op(0).op('a').stop().toBytes();
        Path f1 = TorchFileWriter.writeZip(dir.resolve("cyclic.pth"), cyclic, Map.of(), null);
        Object root = PthReader.read(f1);
        assertThat(root).isInstanceOf(List.class);
        assertThat(((List<?>) root).get(0)).isSameAs(root);

        PickleBuilder deep = new PickleBuilder().proto(2);
        for (int i = 0; i < 5000; i++) deep.emptyList();
        for (int i = 0; i < 4999; i++) deep.op('a');
        Path f2 = TorchFileWriter.writeZip(dir.resolve("deep.pth"), deep.stop().toBytes(), Map.of(), null);
        assertThatThrownBy(() -> PthReader.read(f2))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f2.toString())
                .hasMessageContaining("nested deeper than");
    }

    @Test
    void rejectsStorageMissingFromZip() throws IOException {
        byte[] pkl = new PickleBuilder().proto(2).orderedDict().mark()
                .str("w").tensor("FloatStorage", "7", 2, 0, new long[]{2}, new long[]{1}, false)
                .setitems().stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("missing_storage.pth"), pkl, Map.of(), null);
        assertThatThrownBy(() -> PthReader.read(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("no entry archive/data/7");
    }

    @Test
    void stateDictRejectsNonStateDictContent() throws IOException {
        byte[] pkl = new PickleBuilder().proto(2).emptyDict().mark().str("epoch").integer(3)
                .str("weights").emptyList().setitems().stop().toBytes();
        Path f = TorchFileWriter.writeZip(dir.resolve("not_sd.pth"), pkl, Map.of(), null);
        assertThatThrownBy(() -> PthReader.readStateDict(f))
                .isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("expected a state dict")
                .hasMessageContaining("'epoch' is a Integer");
    }
}
