package dev.frcnn.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The one place that decides which format a dataset is in and opens it as a {@link DetectionDataset}: training,
 * evaluation and the command line call {@link #open} and never name a format themselves.
 *
 * <p>A {@link Source} is either a directory and a split, or an explicit COCO annotation file and image folder. A
 * directory is
 * <ul>
 *   <li>COCO 2017's layout when {@code DIR/annotations/instances_<split>.json} exists (images in {@code DIR/<split>/});
 *       this is looked at first;</li>
 *   <li>the PASCAL VOC layout when {@code DIR/ImageSets/Main/<split>.txt} exists ({@code Annotations/},
 *       {@code JPEGImages/});</li>
 *   <li>otherwise refused: a {@link DataException} naming both files looked for.</li>
 * </ul>
 *
 * <p>Class names: a VOC dataset takes them from the caller (the config's {@code class_names}, or the model's); a COCO
 * file names its own categories, which must then be the caller's names in label order (categories sorted by id), if
 * the caller gives any.
 *
 * <p>Training and evaluation read a split alike for both formats: training drops difficult objects, evaluation keeps
 * and flags them; a COCO training split keeps its images without targets (as a VOC split does), so that the trainer
 * skips them itself, reports them, and a converted dataset gives the same image indices, epoch order and flips as its
 * VOC original.
 */
public final class DatasetLayouts {
    private DatasetLayouts() {}

    /** The dataset formats. */
    public enum Format {
        /** PASCAL VOC XML ({@link VocDataset}). */
        VOC,
        /** A COCO instances JSON ({@link CocoDataset}). */
        COCO
    }

    /**
     * Where a split is: {@code dir} and {@code split} (a layout, detected), or {@code annotations} and
     * {@code images} (a COCO file and its image folder; {@code split} is then the file's stem).
     *
     * @param dir the dataset directory, or null
     * @param split the split's name (VOC split file, COCO {@code <split>}), or null with explicit files
     * @param annotations a COCO instances JSON, or null
     * @param images the image folder of {@code annotations}, or null
     */
    public record Source(Path dir, String split, Path annotations, Path images) {
        /**
         * @throws IllegalArgumentException unless exactly one of {@code dir} + {@code split} and {@code annotations}
         *     + {@code images} is given
         */
        public Source {
            boolean layout = dir != null && split != null, files = annotations != null && images != null;
            if (layout == files || (layout && (annotations != null || images != null))
                    || (files && dir != null)) {
                throw new IllegalArgumentException("a dataset source is a directory and a split, or an annotation "
                        + "file and an image folder");
            }
        }

        /** A directory in the VOC or COCO 2017 layout, and a split of it. */
        public static Source layout(Path dir, String split) {
            return new Source(Objects.requireNonNull(dir, "dir"), Objects.requireNonNull(split, "split"), null, null);
        }

        /** A COCO instances JSON and the folder its {@code file_name}s are relative to. */
        public static Source files(Path annotations, Path images) {
            return new Source(null, null, Objects.requireNonNull(annotations, "annotations"),
                    Objects.requireNonNull(images, "images"));
        }

        /** For messages: {@code DIR (split 'test')} or {@code FILE with images in DIR}. */
        @Override
        public String toString() {
            return dir != null ? dir + " (split '" + split + "')" : annotations + " with images in " + images;
        }
    }

    /**
     * The format of {@code dir}'s split {@code split}.
     *
     * @throws DataException naming the directory and both files looked for, if neither layout is there
     */
    public static Format detect(Path dir, String split) {
        if (CocoDataset.isLayout(dir, split)) return Format.COCO;
        Path vocSplit = dir.resolve("ImageSets").resolve("Main").resolve(split + ".txt");
        if (Files.isRegularFile(vocSplit)) return Format.VOC;
        throw new DataException(dir, "no split '" + split + "' here: neither " + vocSplit + " (VOC layout) nor "
                + CocoDataset.layoutAnnotationFile(dir, split) + " (COCO layout) is a file");
    }

    /**
     * Opens a split.
     *
     * @param source where it is
     * @param training whether it is read for training (difficult objects dropped) or for evaluation (kept, flagged)
     * @param classNames the class names, label i = name i: required for VOC (e.g. {@code Config.classNamesOrVoc()});
     *     for COCO, the categories' names must equal them; empty: VOC's 20 classes for VOC, the file's own for COCO
     * @param maxImagePixels {@code max_image_pixels}
     * @param exif {@code exif_orientation}
     * @return the dataset (a {@link VocDataset} or {@link CocoDataset})
     * @throws DataException naming the file for a missing layout, annotation file or image folder, anything the
     *     format's reader refuses, or COCO categories other than {@code classNames}
     */
    public static DetectionDataset open(Source source, boolean training, List<String> classNames,
                                        long maxImagePixels, ExifOrientationMode exif) {
        Path annotations, images;
        if (source.dir() != null) {
            if (detect(source.dir(), source.split()) == Format.VOC) {
                return new VocDataset(source.dir(), source.split(), !training,
                        classNames.isEmpty() ? VocDataset.VOC_BBOX_LABEL_NAMES : classNames, maxImagePixels, exif);
            }
            annotations = CocoDataset.layoutAnnotationFile(source.dir(), source.split());
            images = source.dir().resolve(source.split());
        } else {
            annotations = source.annotations();
            images = source.images();
            if (!Files.isRegularFile(annotations)) {
                throw new DataException(annotations, "COCO annotation file not found");
            }
        }
        if (!Files.isDirectory(images)) {
            throw new DataException(images, "image folder of " + annotations + " not found");
        }
        CocoDataset coco = new CocoDataset(annotations, images,
                training ? CocoDataset.Mode.TRAIN : CocoDataset.Mode.EVALUATE, true, maxImagePixels, exif);
        if (!classNames.isEmpty() && !coco.labelNames().equals(classNames)) {
            throw new DataException(annotations, "its categories (sorted by id) are " + coco.labelNames()
                    + ", but the class names are " + classNames + " (the config's class_names, or the model's); they "
                    + "must be the same, in that order");
        }
        return coco;
    }
}
