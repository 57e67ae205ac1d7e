package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * A detection dataset as training, evaluation and the command line see it, whatever its file format: an ordered list
 * of images, each with its boxes in one convention. Implemented by {@link VocDataset} (PASCAL VOC XML) and
 * {@link CocoDataset} (COCO instances JSON).
 *
 * <p>Conventions every implementation follows: boxes are {@code (ymin, xmin, ymax, xmax)} float32 in 0-based pixels of
 * the image as it is decoded; labels are contiguous 0-based indices into {@link #labelNames()} (the background class
 * is not counted); {@code difficult} flags mark objects an evaluation ignores (VOC's {@code <difficult>}).
 *
 * <p>COCO ids: every dataset also names its images and categories as a COCO file would ({@link #imageId},
 * {@link #categories()}), so that results files ({@code image_id}, {@code category_id}) and the COCO metric's ground
 * truth use the dataset's own ids: a COCO file's ids, or for other formats the ids {@link DatasetConverter} writes
 * when it converts the dataset to COCO JSON. Crowd regions ({@link #crowd}), which only COCO has, are never training
 * targets; the COCO metric ignores detections inside them.
 */
public interface DetectionDataset {
    /**
     * One image with its boxes ({@code VOCBboxDataset.get_example(i)}). The tensors are CPU tensors owned by the
     * caller's {@code PointerScope}.
     *
     * @param id the image's id in the dataset (a VOC file stem, a COCO image id in decimal)
     * @param image (3, H, W) float32 RGB 0..255 ({@link ImageReader#readRgbChw})
     * @param bbox (R, 4) float32 (ymin, xmin, ymax, xmax), 0-based pixels
     * @param label (R,) int64 indices into {@link DetectionDataset#labelNames()}
     * @param difficult (R,) bool difficult flags
     */
    record Example(String id, Tensor image, Tensor bbox, Tensor label, Tensor difficult) {
        /**
         * An image's decoded pixels with its boxes as tensors.
         *
         * @param boxes the image's boxes
         * @param image (3, H, W) float32 RGB 0..255
         * @return the example
         */
        public static Example of(Boxes boxes, Tensor image) {
            int r = boxes.size();
            long[] label = new long[r], diff = new long[r];
            for (int k = 0; k < r; k++) {
                label[k] = boxes.label()[k];
                diff[k] = boxes.difficult()[k] ? 1 : 0;
            }
            return new Example(boxes.id(), image, Tensors.fromFloats(boxes.bbox(), r, 4), Tensors.fromLongs(label, r),
                    Tensors.fromLongs(diff, r).to(ScalarType.Bool));
        }
    }

    /**
     * The boxes of one image as Java arrays (no image decoding).
     *
     * <p>{@code bbox()} is (R, 4) flattened row-major (ymin, xmin, ymax, xmax) in 0-based pixels; {@code label()} and
     * {@code difficult()} have R entries.
     */
    interface Boxes {
        /** The image's id. */
        String id();

        /** (R, 4) row-major (ymin, xmin, ymax, xmax), 0-based pixels. */
        float[] bbox();

        /** (R,) labels, indices into {@link DetectionDataset#labelNames()}. */
        int[] label();

        /** (R,) difficult flags. */
        boolean[] difficult();

        /** Number of objects R. */
        default int size() {
            return label().length;
        }

        /**
         * The area of box {@code r} as the COCO metric takes it (it decides the small/medium/large ranges): a COCO
         * file's {@code area} where it gives one, else {@code w * h} of {@link CocoBox#xywh} (what
         * {@link DatasetConverter#vocToCoco} writes).
         *
         * @throws IndexOutOfBoundsException if there is no box {@code r}
         */
        default double area(int r) {
            double[] b = CocoBox.xywh(bbox(), r);
            return b[2] * b[3];
        }
    }

    /** Number of images. */
    int size();

    /** Image ids, index i being image i. */
    List<String> ids();

    /** Foreground class names; label i is name i. */
    List<String> labelNames();

    /** The split's name (VOC's split file name, COCO's {@code <split>} or annotation file stem). */
    String split();

    /** The file of image {@code i}. */
    Path imagePath(int i);

    /**
     * Image {@code i} with its boxes: {@link #annotation}, then the image decoded with {@link #maxImagePixels()} and
     * {@link #exifOrientation()} (its file was checked, and warned about, once by {@link DatasetCheck}).
     *
     * @param i index in {@code [0, size())}
     * @return the example; tensors on the CPU, owned by the caller's {@code PointerScope}
     * @throws DataException for a missing or corrupt image or annotation (the message names the file)
     * @throws IndexOutOfBoundsException if {@code i} is out of range
     */
    default Example get(int i) {
        Boxes boxes = annotation(i);
        return Example.of(boxes, ImageReader.readRgbChwChecked(imagePath(i), maxImagePixels(), exifOrientation()));
    }

    /**
     * Image {@code i}'s boxes, without decoding the image.
     *
     * @param i index in {@code [0, size())}
     * @throws DataException for a missing or malformed annotation (the message names the file)
     * @throws IndexOutOfBoundsException if {@code i} is out of range
     */
    Boxes annotation(int i);

    /** The pixel limit images are checked against ({@code max_image_pixels}). */
    long maxImagePixels();

    /** Whether the images are decoded with their EXIF orientation applied ({@code exif_orientation}). */
    ExifOrientationMode exifOrientation();

    /**
     * The COCO image id of image {@code i}: the id in a COCO file; for a VOC split, the 1-based position of the image's
     * id in the split file (an id listed twice keeps its first position), the ids {@link DatasetConverter#vocToCoco}
     * writes.
     *
     * @throws IndexOutOfBoundsException if {@code i} is out of range
     */
    long imageId(int i);

    /**
     * The categories as COCO ids and names, label {@code i} being category {@code i}: a COCO file's own; by default
     * ids 1..K in label order ({@link CocoCategories#numbered}), as {@link DatasetConverter#vocToCoco} writes them.
     */
    default CocoCategories categories() {
        return CocoCategories.numbered(labelNames());
    }

    /**
     * Image {@code i}'s crowd regions (COCO's {@code iscrowd: 1}): never training targets; the COCO metric ignores
     * detections inside them. Empty by default (VOC has none).
     *
     * @throws IndexOutOfBoundsException if {@code i} is out of range
     */
    default Boxes crowd(int i) {
        return new NoBoxes(ids().get(i));
    }

    /** The file holding image {@code i}'s annotation (VOC's {@code Annotations/<id>.xml}, the COCO JSON). */
    Path annotationPath(int i);

    /**
     * The file that lists the split's images, named by messages about the split as a whole (VOC's
     * {@code ImageSets/Main/<split>.txt}, the COCO JSON).
     */
    Path indexFile();

    /** The dataset as a whole, named by messages about all its splits (VOC's data directory, the COCO JSON). */
    Path root();

    /**
     * This dataset without the given image ids (every occurrence), e.g. the truncated images that
     * {@code truncated_images: skip} leaves out. Implementations return their own type.
     *
     * @param drop ids to leave out (ids not in the dataset are ignored)
     * @return a dataset over the remaining images, in order
     * @throws DataException if no image remains (names {@link #indexFile()})
     */
    DetectionDataset withoutIds(Collection<String> drop);

    /** Ids listed more than once, with their counts (&gt;= 2), in order of first appearance; empty by default. */
    default Map<String, Integer> duplicateIds() {
        return Map.of();
    }

    /** One line per kind of fix made while reading the dataset (without a prefix); empty by default. */
    default List<String> warnings() {
        return List.of();
    }

    /**
     * No boxes (the default {@link #crowd}).
     *
     * @param id the image's id
     */
    record NoBoxes(String id) implements Boxes {
        @Override
        public float[] bbox() {
            return new float[0];
        }

        @Override
        public int[] label() {
            return new int[0];
        }

        @Override
        public boolean[] difficult() {
            return new boolean[0];
        }
    }
}
