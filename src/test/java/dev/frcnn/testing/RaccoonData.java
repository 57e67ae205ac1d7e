package dev.frcnn.testing;

import dev.frcnn.data.DatasetConverter;
import dev.frcnn.data.VocDataset;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The raccoon data of {@code ../shared/data/raccoon} (real photographs, one class; {@code ../shared/data/README.md})
 * for tests: a subset in the VOC layout whose {@code Annotations} and {@code JPEGImages} link to the originals, and
 * that subset converted to COCO 2017's layout with {@link DatasetConverter}. Nothing is copied; when the data is
 * missing the caller's assertion fails (no skip).
 */
public final class RaccoonData {
    /** The dataset's directory. */
    public static final Path DIR = Path.of("../shared/data/raccoon");
    /** Its one class. */
    public static final List<String> CLASSES = List.of("raccoon");

    private RaccoonData() {}

    /**
     * A VOC layout in {@code dir} with the first {@code trainval} ids of the trainval split and the first {@code test}
     * of the test split (all of them with a count of 0 or less).
     *
     * @return {@code dir}
     */
    public static Path vocSubset(Path dir, int trainval, int test) throws IOException {
        assertThat(DIR.resolve("ImageSets/Main/trainval.txt")).as("the raccoon dataset (see ../shared/data/README.md)")
                .isRegularFile();
        Files.createDirectories(dir.resolve("ImageSets/Main"));
        Files.createSymbolicLink(dir.resolve("Annotations"), DIR.resolve("Annotations").toAbsolutePath());
        Files.createSymbolicLink(dir.resolve("JPEGImages"), DIR.resolve("JPEGImages").toAbsolutePath());
        split(dir, "trainval", trainval);
        split(dir, "test", test);
        return dir;
    }

    private static void split(Path dir, String split, int n) throws IOException {
        List<String> ids = Files.readAllLines(DIR.resolve("ImageSets/Main/" + split + ".txt")).stream()
                .filter(s -> !s.isBlank()).limit(n > 0 ? n : Long.MAX_VALUE).toList();
        if (n > 0) assertThat(ids).hasSize(n);
        Files.write(dir.resolve("ImageSets/Main/" + split + ".txt"), ids);
    }

    /**
     * Converts the splits of the VOC layout {@code voc} to COCO 2017's layout in {@code out}
     * ({@code annotations/instances_<split>.json}, {@code <split>/} linked to the images).
     *
     * @return {@code out}
     */
    public static Path toCoco(Path voc, Path out, String... splits) throws IOException {
        for (String split : splits) DatasetConverter.vocToCoco(new VocDataset(voc, split, true, CLASSES), out, false);
        return out;
    }
}
