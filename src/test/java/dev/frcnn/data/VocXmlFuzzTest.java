package dev.frcnn.data;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.frcnn.testing.FuzzFiles;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.stream.Stream;

/**
 * Coverage-guided fuzzing (Jazzer) of the VOC annotation reader, {@link VocDataset#annotation}. Property: every
 * input either parses or raises {@link DataException}; nothing else. Seeds: VOC XML files with one and two
 * objects, difficult flags, fractional coordinates. See {@code docs/fuzzing.md}.
 */
class VocXmlFuzzTest {
    private static final FuzzFiles FILES = new FuzzFiles("frcnn-fuzz-voc");
    private static final VocDataset DATASET = dataset();

    private static VocDataset dataset() {
        try {
            Files.createDirectories(FILES.dir().resolve("ImageSets/Main"));
            Files.createDirectories(FILES.dir().resolve("Annotations"));
            Files.writeString(FILES.dir().resolve("ImageSets/Main/fuzz.txt"), "x\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new VocDataset(FILES.dir(), "fuzz", true, List.of("cat", "dog"));
    }

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "5s")
    void readAnnotation(byte[] data) {
        FILES.write("Annotations/x.xml", data);
        try {
            DATASET.annotation(0);
        } catch (DataException expected) {
            // the project's typed error: fine
        }
    }

    static Stream<Arguments> seeds() {
        String one = """
                <annotation><folder>VOC2007</folder><filename>x.jpg</filename>
                <size><width>500</width><height>375</height><depth>3</depth></size>
                <object><name>cat</name><pose>Left</pose><truncated>0</truncated><difficult>0</difficult>
                <bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox></object>
                </annotation>""";
        String two = """
                <?xml version="1.0" encoding="utf-8"?>
                <annotation><object><name> Dog </name><difficult>1</difficult>
                <bndbox><xmin>8.5</xmin><ymin>12</ymin><xmax>352.25</xmax><ymax>498</ymax></bndbox></object>
                <object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>
                </object></annotation>""";
        return Stream.of(Arguments.of((Object) one.getBytes(StandardCharsets.UTF_8)),
                Arguments.of((Object) two.getBytes(StandardCharsets.UTF_8)));
    }
}
