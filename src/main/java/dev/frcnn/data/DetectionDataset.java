package dev.frcnn.data;

import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * A detection dataset as training, evaluation and the command line see it, whatever its file format: an ordered list
 * of images, each with its boxes in one convention. Implemented by {@link VocDataset} (PASCAL VOC XML) and
 * {@link CocoDataset} (COCO instances JSON).
 *
 * <p>Conventions every implementation follows: boxes are {@code (ymin, xmin, ymax, xmax)} float32 in 0-based pixels of
 * the image as it is decoded; labels are contiguous 0-based indices into {@link #labelNames()} (the background class
 * is not counted); {@code difficult} flags mark objects an evaluation ignores (VOC's {@code <difficult>}).
 */
public interface DetectionDataset {
    /**
     * One image with its boxes. The tensors are CPU tensors owned by the caller's {@code PointerScope}.
     *
     * <p>{@code image()} is (3, H, W) float32 RGB 0..255; {@code bbox()} (R, 4) float32 (ymin, xmin, ymax, xmax),
     * 0-based pixels; {@code label()} (R,) int64 indices into {@link #labelNames()}; {@code difficult()} (R,) bool.
     */
    interface Example {
        /** The image's id in the dataset (a VOC file stem, a COCO image id in decimal). */
        String id();

        /** (3, H, W) float32 RGB 0..255. */
        Tensor image();

        /** (R, 4) float32 (ymin, xmin, ymax, xmax), 0-based pixels. */
        Tensor bbox();

        /** (R,) int64 labels, indices into {@link DetectionDataset#labelNames()}. */
        Tensor label();

        /** (R,) bool difficult flags. */
        Tensor difficult();
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
     * Image {@code i} with its boxes.
     *
     * @param i index in {@code [0, size())}
     * @throws DataException for a missing or corrupt image or annotation (the message names the file)
     * @throws IndexOutOfBoundsException if {@code i} is out of range
     */
    Example get(int i);

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
}
