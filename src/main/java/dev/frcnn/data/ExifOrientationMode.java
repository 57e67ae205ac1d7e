package dev.frcnn.data;

import java.util.Arrays;
import java.util.List;

/**
 * Whether decoding applies an image's EXIF orientation (config key {@code exif_orientation}), one rule for
 * training, evaluation, {@code detect} and the API ({@link ImageReader}).
 *
 * <ul>
 *   <li>{@link #APPLY} (default): the image as photo viewers show it, as detectron2's {@code read_image} reads it
 *       ({@code ImageOps.exif_transpose}): the pixels are mirrored and rotated by the file's Orientation tag
 *       ({@link ExifOrientation}), so a phone photo stored sideways with Orientation 6 is decoded upright, and its
 *       width and height are the shown ones. An invalid tag (0, 65537, ...) counts as 1: as stored.</li>
 *   <li>{@link #IGNORE}: the stored pixels as they are (the reference's PIL {@code convert('RGB')}); width and height
 *       are those of the stored frame.</li>
 * </ul>
 */
public enum ExifOrientationMode {
    /** Apply the Orientation tag (default). */
    APPLY("apply"),
    /** Use the stored pixels, whatever the tag says (the reference's behaviour). */
    IGNORE("ignore");

    /** The names {@code exif_orientation} accepts, in declaration order. */
    public static final List<String> NAMES = Arrays.stream(values()).map(ExifOrientationMode::configName).toList();

    private final String configName;

    ExifOrientationMode(String configName) {
        this.configName = configName;
    }

    /** The config value ({@code apply}, {@code ignore}). */
    public String configName() {
        return configName;
    }

    /**
     * The orientation this mode decodes an image's bytes with.
     *
     * @param file the image file's bytes
     * @return {@link ExifOrientation#read}'s value under {@link #APPLY}; {@link ExifOrientation#NORMAL} under
     *     {@link #IGNORE}
     */
    public int orientationOf(byte[] file) {
        return this == APPLY ? ExifOrientation.read(file) : ExifOrientation.NORMAL;
    }

    /**
     * @param name {@code apply} or {@code ignore}
     * @return the mode
     * @throws IllegalArgumentException for another name (also null); the message lists the accepted names
     */
    public static ExifOrientationMode fromName(String name) {
        for (ExifOrientationMode m : values()) {
            if (m.configName.equals(name)) return m;
        }
        throw new IllegalArgumentException("exif_orientation must be one of " + String.join(", ", NAMES) + ", got "
                + name);
    }
}
