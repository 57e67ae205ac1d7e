package dev.frcnn.data;

import java.util.Arrays;
import java.util.List;

/**
 * What to do with a truncated image file (config key {@code truncated_images}): a JPEG that ends before its end
 * marker (EOI, {@code FF D9}) or a PNG that ends before its {@code IEND} chunk ({@link ImageEnd}).
 *
 * <ul>
 *   <li>{@link #LOAD} (default): decode what the file holds, as libjpeg does with its "premature end of JPEG file"
 *       warning and as PIL does with {@code ImageFile.LOAD_TRUNCATED_IMAGES = True} (what torchvision users get when
 *       they set it); the missing rows are filled (JPEG: grey or the last decoded block's colour; PNG: black), and one
 *       warning line names the file.</li>
 *   <li>{@link #SKIP}: leave the image out of its split, with the same warning line (training and evaluation only;
 *       a single image given to {@code detect} is refused, as there is no split to leave it out of).</li>
 *   <li>{@link #ERROR}: refuse it ({@link DataException} naming the file; exit 2), before anything is trained.</li>
 * </ul>
 */
public enum TruncatedImages {
    /** Decode what is there, warn (default). */
    LOAD("load"),
    /** Leave the image out of its split, warn. */
    SKIP("skip"),
    /** Refuse the image. */
    ERROR("error");

    /** The names {@code truncated_images} accepts, in declaration order. */
    public static final List<String> NAMES = Arrays.stream(values()).map(TruncatedImages::configName).toList();

    private final String configName;

    TruncatedImages(String configName) {
        this.configName = configName;
    }

    /** The config value ({@code load}, {@code skip}, {@code error}). */
    public String configName() {
        return configName;
    }

    /**
     * @param name {@code load}, {@code skip} or {@code error}
     * @return the policy
     * @throws IllegalArgumentException for another name
     */
    public static TruncatedImages fromName(String name) {
        for (TruncatedImages t : values()) {
            if (t.configName.equals(name)) return t;
        }
        throw new IllegalArgumentException("truncated_images must be one of " + String.join(", ", NAMES) + ", got " + name);
    }
}
