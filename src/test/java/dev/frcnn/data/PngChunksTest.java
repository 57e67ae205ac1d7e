package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.DamagedPngs;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PNG chunk CRCs are checked before libpng sees the bytes: libpng's rule, without its lines on stderr. */
@SuppressWarnings("try")
class PngChunksTest {
    static byte[] png() throws IOException { return DamagedPngs.png(); }
    static byte[] badIdatCrc(byte[] p) { return DamagedPngs.badIdatCrc(p); }
    static byte[] badTextChunk(byte[] p) { return DamagedPngs.badTextChunk(p); }
    static int find(byte[] p, String t) { return DamagedPngs.find(p, t); }

    @Test
    void aDamagedCriticalChunkIsRefusedNamingTheFileAndTheChunk() throws IOException {
        byte[] bad = badIdatCrc(png());
        Path file = Path.of("photo.png");
        assertThatThrownBy(() -> PngChunks.verified(file, bad, null)).isInstanceOf(DataException.class)
                .hasMessageStartingWith("photo.png: not a decodable image (corrupt PNG: its critical IDAT chunk at byte ")
                .hasMessageContaining("fails its CRC check");
        assertThatThrownBy(() -> ImageReader.readRgbChw(bad)).isInstanceOf(DataException.class)
                .hasMessageContaining("encoded image (" + bad.length + " bytes)").hasMessageContaining("IDAT");
    }

    @Test
    void aDamagedAncillaryChunkIsDroppedAndTheImageDecodesAsWithoutIt() throws IOException {
        byte[] good = png();
        byte[] bad = badTextChunk(good);
        assertThat(PngChunks.verified(null, bad, null)).isEqualTo(good);
        assertThat(PngChunks.verified(null, good, null)).isSameAs(good);
        try (PointerScope s = new PointerScope()) {
            assertThat(Tensors.toFloatArray(ImageReader.readRgbChw(bad)))
                    .containsExactly(Tensors.toFloatArray(ImageReader.readRgbChw(good)));
        }
    }

    @Test
    void aTruncatedChunkEndsTheWalkWithoutAVerdict() throws IOException {
        byte[] good = png();
        byte[] cut = java.util.Arrays.copyOf(good, find(good, "IDAT") + 20);
        assertThat(PngChunks.verified(null, cut, null)).isSameAs(cut);
    }
}
