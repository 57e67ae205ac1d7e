package dev.frcnn.cli;

import dev.frcnn.data.DatasetLayouts;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * Where {@code train} and {@code eval} read their data (a picocli mixin): {@code --data DIR}, a directory in the VOC
 * or COCO 2017 layout ({@link DatasetLayouts} decides which, per split), or {@code --annotations FILE --images DIR},
 * a COCO instances JSON and its image folder.
 */
final class DataOption {
    @Option(names = "--data", description = "dataset directory: VOC layout (ImageSets/Main/<split>.txt, Annotations/, "
            + "JPEGImages/) or COCO 2017 layout (annotations/instances_<split>.json, <split>/)")
    Path data;

    @Option(names = "--annotations", description = "a COCO instances JSON (instead of --data; with --images)")
    Path annotations;

    @Option(names = "--images", description = "the image folder of --annotations")
    Path images;

    /**
     * @param split the split to read from {@code --data}
     * @return the source given
     * @throws BadInputException unless exactly one of {@code --data} and {@code --annotations} with {@code --images}
     *     is given
     */
    DatasetLayouts.Source source(String split) {
        if (data != null && annotations == null && images == null) return DatasetLayouts.Source.layout(data, split);
        if (data == null && annotations != null && images != null) {
            return DatasetLayouts.Source.files(annotations, images);
        }
        throw new BadInputException("give the data as --data DIR, or as --annotations FILE with --images DIR");
    }

    /** Whether the data was given as {@code --annotations} and {@code --images}. */
    boolean explicitFiles() {
        return data == null;
    }
}
