package dev.frcnn.api;

import dev.frcnn.bench.ModelBench;
import dev.frcnn.model.Detection;
import dev.frcnn.tensor.NativeHeap;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 1,000 {@link Detector#detect} calls (file, bytes; the demo's small backbone on the fixture image at 96 px) keep
 * resident memory within 5% of its level after a warm-up of 200 calls (the warm-up of
 * {@code bench.MemoryFlatnessTest}: the heap settles over the first 100-200 calls under bin/frcnn's malloc
 * settings). Both samples are taken right after a heap trim where trims are on, as {@link ModelBench} does. Then
 * {@link Detector#close()} gives the model's memory back. Run with {@code mvn test -Pslow}.
 */
@Tag("slow")
class DetectorMemoryTest {
    @TempDir
    Path dir;

    private static double trimmedRssMb() {
        System.gc();
        if (NativeHeap.trimsPeriodically()) NativeHeap.trim();
        return ModelBench.rssMb();
    }

    @Test
    void thousandDetectCallsKeepResidentMemoryFlat() throws IOException {
        Path ckpt = TinyModels.checkpoint(dir.resolve("tiny.ckpt"), TinyModels.Size.DEMO, TinyModels.TWO_SHAPES);
        Path image = Golden.file("demo.jpg");
        byte[] bytes = Files.readAllBytes(image);
        DetectorOptions small = DetectorOptions.builder().preset("evaluate").minSize(96).maxSize(128).build();
        try (Detector d = Detector.load(ckpt, small)) {
            List<Detection> first = d.detect(image);
            assertThat(first).isNotEmpty();
            for (int i = 0; i < 200; i++) {
                if (i % 2 == 0) d.detect(image);
                else d.detect(bytes);
            }
            double warm = trimmedRssMb();
            for (int i = 0; i < 1000; i++) {
                List<Detection> r = i % 2 == 0 ? d.detect(image) : d.detect(bytes);
                if (i % 100 == 0) assertThat(r).isEqualTo(first);
            }
            double end = trimmedRssMb();
            System.out.printf("DetectorMemoryTest: RSS %.1f MB after warm-up, %.1f MB after 1000 calls%n", warm, end);
            assertThat(end).as("RSS after 1000 detect calls vs after warm-up (MB)").isLessThan(warm * 1.05);
        }
    }
}
