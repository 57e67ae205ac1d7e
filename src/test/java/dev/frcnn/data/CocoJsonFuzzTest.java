package dev.frcnn.data;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.frcnn.testing.FuzzFiles;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;

/**
 * Coverage-guided fuzzing (Jazzer) of the COCO instances JSON reader, {@link CocoDataset} over {@link CocoFile}.
 * Property: every input either loads or raises {@link DataException}; nothing else. Seeds: an instances file with
 * crowd, difficult, segmentation and out-of-image annotations, and a minimal one. See {@code docs/fuzzing.md}.
 */
class CocoJsonFuzzTest {
    private static final FuzzFiles FILES = new FuzzFiles("frcnn-fuzz-coco");

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "5s")
    void readInstances(byte[] data) {
        FILES.write("instances_fuzz.json", data);
        for (CocoDataset.Mode mode : CocoDataset.Mode.values()) {
            try {
                new CocoDataset(FILES.dir().resolve("instances_fuzz.json"), FILES.dir(), mode);
            } catch (DataException expected) {
                // the project's typed error: fine
            }
        }
    }

    static Stream<Arguments> seeds() {
        String full = """
                {"info": {"year": 2017}, "licenses": [{"id": 1, "name": "x"}],
                 "images": [{"id": 7, "file_name": "a.jpg", "width": 40, "height": 30},
                            {"id": 3, "file_name": "b.jpg", "width": 4, "height": 3}],
                 "categories": [{"id": 90, "name": "toothbrush"}, {"id": 1, "name": "person"}],
                 "annotations": [
                   {"id": 1, "image_id": 7, "category_id": 90, "bbox": [2, 3, 10, 5.5], "area": 55, "iscrowd": 0,
                    "segmentation": [[2, 3, 12, 3, 12, 8.5]]},
                   {"id": 2, "image_id": 7, "category_id": 1, "bbox": [35, 25, 10, 10], "iscrowd": 1,
                    "segmentation": {"counts": [0, 25], "size": [30, 40]}},
                   {"id": 3, "image_id": 3, "category_id": 1, "bbox": [1, 1, 1, 1], "difficult": 1}]}""";
        String minimal = """
                {"images": [{"id": 1, "file_name": "x.jpg", "width": 1, "height": 1}],
                 "categories": [{"id": 1, "name": "a"}], "annotations": []}""";
        return Stream.of(Arguments.of((Object) full.getBytes(StandardCharsets.UTF_8)),
                Arguments.of((Object) minimal.getBytes(StandardCharsets.UTF_8)));
    }
}
