package dev.frcnn.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.*;

class CheckpointsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsTensorsOfEveryDtypeAndTheMetadata() throws IOException {
        try (PointerScope s = new PointerScope()) {
            manual_seed(3);
            LinkedHashMap<String, Tensor> in = new LinkedHashMap<>();
            in.put("model/extractor.0.weight", randn(4, 3, 3, 3));
            in.put("model/scalar", Tensors.fromFloats(new float[]{2.5f}));
            in.put("optimizer/step", Tensors.fromLongs(new long[]{7, -1, 1L << 40}, 3));
            in.put("d", randn(2, 2).to(ScalarType.Double));
            in.put("mask", Tensors.fromLongs(new long[]{1, 0, 1}, 3).to(ScalarType.Bool));
            in.put("empty", zeros(new long[]{0, 4}));
            in.put("strided", randn(3, 4).t());
            ObjectNode meta = new ObjectMapper().createObjectNode().put("epoch", 3).put("best_map", 0.71);
            Path f = dir.resolve("a.ckpt");
            Checkpoints.save(f, in, meta, java.util.Map.of("optimizer.pt", new byte[]{1, 2, 3}));

            Checkpoints.Loaded out = Checkpoints.load(f);
            assertThat(out.tensors().keySet()).containsExactlyElementsOf(in.keySet());
            for (String k : in.keySet()) {
                Tensor a = in.get(k), b = out.tensors().get(k);
                assertThat(Tensors.shape(b)).as(k).containsExactly(Tensors.shape(a));
                assertThat(b.scalar_type().value).as(k).isEqualTo(a.scalar_type().value);
                assertThat(Tensors.toDoubleArray(b)).as(k).containsExactly(Tensors.toDoubleArray(a));
            }
            assertThat(out.meta().get("epoch").asInt()).isEqualTo(3);
            assertThat(out.meta().get("best_map").asDouble()).isEqualTo(0.71);
            assertThat(out.meta().get("format").asInt()).isEqualTo(Checkpoints.FORMAT);
            assertThat(out.blobs()).containsOnlyKeys("optimizer.pt");
            assertThat(out.blobs().get("optimizer.pt")).containsExactly(1, 2, 3);
            // Tensors and blobs (the optimizer state) are written uncompressed: deflating a model-sized momentum
            // state cost seconds per checkpoint and saved nothing.
            try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(f.toFile())) {
                assertThat(z.getEntry("blobs/optimizer.pt").getMethod()).isEqualTo(ZipEntry.STORED);
                assertThat(z.getEntry("tensors/0").getMethod()).isEqualTo(ZipEntry.STORED);
            }
        }
    }

    @Test
    void readsDeflatedBlobsOfEarlierCheckpoints() throws IOException {
        // Checkpoints written before December 2026 deflated their blobs; they must still resume.
        try (PointerScope s = new PointerScope()) {
            Path f = dir.resolve("old.ckpt");
            LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
            m.put("w", ones(3));
            Checkpoints.save(f, m, null);
            Path g = dir.resolve("old-deflated.ckpt");
            byte[] blob = new byte[4096];
            for (int i = 0; i < blob.length; i++) blob[i] = (byte) (i % 7);
            try (java.util.zip.ZipFile in = new java.util.zip.ZipFile(f.toFile());
                 ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(g))) {
                for (var en = in.entries(); en.hasMoreElements(); ) {
                    ZipEntry e = en.nextElement();
                    ZipEntry copy = new ZipEntry(e);
                    if (copy.getMethod() == ZipEntry.DEFLATED) copy.setCompressedSize(-1);
                    out.putNextEntry(copy);
                    in.getInputStream(e).transferTo(out);
                    out.closeEntry();
                }
                out.putNextEntry(new ZipEntry("blobs/optimizer.pt"));
                out.write(blob);
                out.closeEntry();
            }
            Checkpoints.Loaded out = Checkpoints.load(g);
            assertThat(out.blobs().get("optimizer.pt")).containsExactly(blob);
            assertThat(Tensors.toDoubleArray(out.tensors().get("w"))).containsExactly(1, 1, 1);
        }
    }

    @Test
    void overwritingLeavesNoTemporaryFiles() throws IOException {
        try (PointerScope s = new PointerScope()) {
            Path f = dir.resolve("b.ckpt");
            LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
            m.put("w", ones(3));
            Checkpoints.save(f, m, null);
            m.put("w", zeros(new long[]{5}));
            Checkpoints.save(f, m, null);
            assertThat(Tensors.shape(Checkpoints.load(f).tensors().get("w"))).containsExactly(5L);
            try (var files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactly("b.ckpt");
            }
        }
    }

    /** The pattern that training's clean-up of stale temporary files relies on is the writer's own naming. */
    @Test
    void temporaryFilesOfTheWriterMatchTheirPatternAndLookalikesDoNot() throws IOException {
        for (int i = 0; i < 20; i++) {
            Path tmp = Checkpoints.createTemporary(dir, "last.ckpt");
            assertThat(Checkpoints.isTemporaryOf(tmp.getFileName().toString(), "last.ckpt")).as(tmp.toString()).isTrue();
            assertThat(Checkpoints.isTemporaryOf(tmp.getFileName().toString(), "best.ckpt")).isFalse();
            Files.delete(tmp);
        }
        assertThat(Checkpoints.isTemporaryOf("last.ckpt18446744073709551615.tmp", "last.ckpt")).isTrue();
        for (String lookalike : new String[]{"last.ckpt.tmp", "last.ckpt.tmp1", "last.ckpt12.tmp.bak", "last.ckpt-1.tmp",
                "last.ckpt1a.tmp", "mylast.ckpt12.tmp", "last.ckpt123456789012345678901.tmp", "last.ckpt12.TMP",
                "last.ckpt", "last.ckpt12"}) {
            assertThat(Checkpoints.isTemporaryOf(lookalike, "last.ckpt")).as(lookalike).isFalse();
        }
    }

    @Test
    void rejectsFilesThatAreNotCheckpointsNamingTheFile() throws IOException {
        Path garbage = dir.resolve("garbage.ckpt");
        Files.writeString(garbage, "not a zip");
        assertThatThrownBy(() -> Checkpoints.load(garbage))
                .isInstanceOf(WeightsFormatException.class).hasMessageContaining("garbage.ckpt").hasMessageContaining("zip");

        Path noMeta = dir.resolve("nometa.ckpt");
        try (OutputStream o = Files.newOutputStream(noMeta); ZipOutputStream z = new ZipOutputStream(o)) {
            z.putNextEntry(new ZipEntry("x"));
            z.write(1);
        }
        assertThatThrownBy(() -> Checkpoints.load(noMeta))
                .isInstanceOf(WeightsFormatException.class).hasMessageContaining("nometa.ckpt").hasMessageContaining("meta.json");
    }

    @Test
    void rejectsADataEntryShorterThanItsDeclaredShape() throws IOException {
        Path f = dir.resolve("short.ckpt");
        try (OutputStream o = Files.newOutputStream(f); ZipOutputStream z = new ZipOutputStream(o)) {
            z.putNextEntry(new ZipEntry("tensors/0"));
            z.write(new byte[8]);
            z.closeEntry();
            z.putNextEntry(new ZipEntry("meta.json"));
            z.write(("{\"format\":1,\"tensors\":[{\"name\":\"w\",\"dtype\":\"float32\",\"shape\":[1000000000,1000],"
                    + "\"entry\":\"tensors/0\"}]}").getBytes());
        }
        assertThatThrownBy(() -> Checkpoints.load(f))
                .isInstanceOf(WeightsFormatException.class).hasMessageContaining("short.ckpt").hasMessageContaining("tensor w");
    }

    @Test
    void missingFileIsReported() {
        assertThatThrownBy(() -> Checkpoints.load(dir.resolve("none.ckpt")))
                .isInstanceOf(java.nio.file.NoSuchFileException.class).hasMessageContaining("none.ckpt");
    }

    /** Inputs of the kinds CheckpointsFuzzTest found (docs/fuzzing.md) give the typed error, not ZipException/EOFException. */
    @Test
    void corruptZipDataIsAFormatError() throws IOException {
        Path good = dir.resolve("good.ckpt");
        try (PointerScope s = new PointerScope()) {
            Checkpoints.save(good, java.util.Map.of("w", randn(2, 3)), null, java.util.Map.of("b", new byte[100]));
        }
        byte[] bytes = java.nio.file.Files.readAllBytes(good);
        // the local header of the first entry no longer starts with PK\3\4 (the central directory still lists it)
        byte[] badLocal = bytes.clone();
        badLocal[0] = 'X';
        // a zip cut inside its end record: ZipFile's constructor throws EOFException
        byte[] cut = java.util.Arrays.copyOf(bytes, 30);
        byte[] endOnly = {'P', 'K', 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xFF, (byte) 0xFF};
        for (byte[] b : java.util.List.of(badLocal, cut, endOnly)) {
            Path f = java.nio.file.Files.write(dir.resolve("bad.ckpt"), b);
            assertThatThrownBy(() -> Checkpoints.load(f)).isInstanceOf(WeightsFormatException.class)
                    .hasMessageContaining(f.toString());
        }
    }
}
