package dev.frcnn.data;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.bytedeco.opencv.global.opencv_core.CV_8U;
import static org.bytedeco.opencv.global.opencv_core.ROTATE_180;
import static org.bytedeco.opencv.global.opencv_core.ROTATE_90_CLOCKWISE;
import static org.bytedeco.opencv.global.opencv_core.ROTATE_90_COUNTERCLOCKWISE;
import static org.bytedeco.opencv.global.opencv_core.flip;
import static org.bytedeco.opencv.global.opencv_core.rotate;
import static org.bytedeco.opencv.global.opencv_core.transpose;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_IGNORE_ORIENTATION;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;
import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_BGR2RGB;
import static org.bytedeco.opencv.global.opencv_imgproc.cvtColor;
import static org.bytedeco.pytorch.global.torch.from_blob;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes image files into LibTorch tensors, mirroring the reference's {@code data/util.read_image(path,
 * dtype=np.float32, color=True)}.
 *
 * <p>Decoding is done by OpenCV ({@code imdecode} with {@code IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION},
 * then BGR to RGB). Gray or palette images become three equal channels, as with PIL's {@code convert('RGB')} in the
 * reference. For baseline JPEGs OpenCV's libjpeg gives the same pixels as PIL's (measured on the fixture image: max
 * difference 0).
 *
 * <p>EXIF orientation ({@link ExifOrientationMode}, config key {@code exif_orientation}): with {@code APPLY} (the
 * default, and what the overloads without a mode use) the Orientation tag that {@link ExifOrientation} reads from the
 * bytes is applied by us after decoding (OpenCV's {@code flip}, {@code transpose}, {@code rotate}), so the image is
 * the one photo viewers show; with {@code IGNORE} the stored pixels are used as they are (the reference's PIL
 * ignores the tag). OpenCV's own handling of the tag is never used, so the rule is the same in training, evaluation,
 * {@code detect} and the API. {@link #read} returns the image with its size ({@link DecodedImage}), so that nothing
 * needs to decode a file a second time.
 *
 * <p>A PNG's chunk CRCs are checked first ({@link PngChunks}): a damaged critical chunk is a {@link DataException}
 * naming the chunk, a damaged ancillary chunk is dropped (libpng's rule), and libpng prints nothing to stderr.
 *
 * <p>Truncated files (a JPEG without its end marker, a PNG without {@code IEND}: {@link ImageEnd}) are handled by a
 * {@link TruncatedImages} policy: {@link TruncatedImages#LOAD} (the default of the overloads without one) completes
 * the bytes in memory and decodes what is there, logging one warning naming the file; the other two refuse the file
 * ({@link DataException}). OpenCV's libjpeg prints its own line ("Corrupt JPEG data: premature end of data
 * segment") on stderr when it decodes such a file.
 */
@SuppressWarnings("try") // PointerScope blocks free temporaries; the scope variable is unused by design
public final class ImageReader {
    private ImageReader() {}

    private static final Logger LOG = LoggerFactory.getLogger(ImageReader.class);

    static {
        dev.frcnn.tensor.NativeLibraries.ensureExtracted(); // before the first org.bytedeco.pytorch class loads
    }

    /**
     * Default pixel limit: PIL's decompression-bomb error threshold ({@code 2 * Image.MAX_IMAGE_PIXELS} =
     * 2 * 89,478,485 = 178,956,970 pixels, about 13,400 x 13,400). Decoded to float32 (3, H, W) such an image
     * takes 2.1 GB.
     */
    public static final long DEFAULT_MAX_PIXELS = 2L * 89_478_485L;

    /** As {@link #readRgbChw(Path, long)} with {@link #DEFAULT_MAX_PIXELS}. */
    public static Tensor readRgbChw(Path path) {
        return readRgbChw(path, DEFAULT_MAX_PIXELS);
    }

    /** As {@link #readRgbChw(Path, long, TruncatedImages)} with {@link TruncatedImages#LOAD}. */
    public static Tensor readRgbChw(Path path, long maxPixels) {
        return readRgbChw(path, maxPixels, TruncatedImages.LOAD);
    }

    /**
     * Reads an image file as a float32 CPU tensor of shape (3, H, W), channels in RGB order, values
     * 0..255 (integers stored as floats), like {@code read_image(path)}, with its EXIF orientation applied
     * ({@link ExifOrientationMode#APPLY}; {@link #read} takes the mode).
     *
     * <p>The caller owns the returned tensor (create it inside a {@code PointerScope}, or retain it).
     *
     * <p>Before decoding, the format and size are read from the header ({@link ImageHeader}); an image of more
     * than {@code maxPixels} pixels is refused without decoding it (decompression-bomb guard).
     *
     * <p>A truncated file (see the class comment) is decoded with {@link TruncatedImages#LOAD}, with one logged
     * warning naming it, and refused otherwise.
     *
     * @param path an image file in one of {@link ImageHeader#FORMATS}
     * @param maxPixels the largest accepted {@code width * height} ({@code max_image_pixels})
     * @param truncated what to do with a truncated file ({@code truncated_images})
     * @return (3, H, W) float32 RGB, 0..255
     * @throws ImageTooLargeException if the header declares more than {@code maxPixels} pixels
     * @throws DataException if the file is missing, not a regular file, unreadable, empty, not in a supported
     *     format, not a decodable image, or truncated and {@code truncated} is not {@code LOAD}; the message names
     *     the file and the problem
     * @throws IllegalArgumentException if {@code maxPixels < 1}
     */
    public static Tensor readRgbChw(Path path, long maxPixels, TruncatedImages truncated) {
        return read(path, maxPixels, truncated, ExifOrientationMode.APPLY).rgbChw();
    }

    /**
     * Reads an image file once, as {@link #readRgbChw(Path, long, TruncatedImages)} does, in the frame that
     * {@code exif} gives, with its size.
     *
     * @param path an image file in one of {@link ImageHeader#FORMATS}
     * @param maxPixels the largest accepted {@code width * height} ({@code max_image_pixels})
     * @param truncated what to do with a truncated file ({@code truncated_images})
     * @param exif whether the EXIF orientation is applied ({@code exif_orientation})
     * @return the pixels, (3, H, W) float32 RGB 0..255 owned by the caller, and H, W (after the orientation)
     * @throws ImageTooLargeException if the header declares more than {@code maxPixels} pixels
     * @throws DataException as {@link #readRgbChw(Path, long, TruncatedImages)}
     * @throws IllegalArgumentException if {@code maxPixels < 1}
     */
    public static DecodedImage read(Path path, long maxPixels, TruncatedImages truncated, ExifOrientationMode exif) {
        checkLimit(maxPixels);
        byte[] bytes = readBytes(path);
        checkHeader(path, bytes, maxPixels);
        return decode(whole(bytes, path, null, truncated, true), path, null, exif);
    }

    /**
     * As {@link #read(Path, long, TruncatedImages, ExifOrientationMode)} with {@code load} and without the warning,
     * for {@link VocDataset}, whose images were checked (and warned about) once by {@link DatasetCheck}.
     */
    static Tensor readRgbChwChecked(Path path, long maxPixels, ExifOrientationMode exif) {
        checkLimit(maxPixels);
        byte[] bytes = readBytes(path);
        checkHeader(path, bytes, maxPixels);
        return decode(whole(bytes, path, null, TruncatedImages.LOAD, false), path, null, exif).rgbChw();
    }

    /** As {@link #readRgbChw(byte[], long)} with {@link #DEFAULT_MAX_PIXELS}. */
    public static Tensor readRgbChw(byte[] encoded) {
        return readRgbChw(encoded, DEFAULT_MAX_PIXELS);
    }

    /** As {@link #readRgbChw(byte[], long, TruncatedImages)} with {@link TruncatedImages#LOAD}. */
    public static Tensor readRgbChw(byte[] encoded, long maxPixels) {
        return readRgbChw(encoded, maxPixels, TruncatedImages.LOAD);
    }

    /**
     * Decodes an encoded image (the bytes of a JPEG, PNG, BMP, ... file) as {@link #readRgbChw(Path, long,
     * TruncatedImages)} does, with the same header check before decoding and the same handling of truncated bytes.
     *
     * @param encoded the file's bytes (not modified)
     * @param maxPixels the largest accepted {@code width * height} ({@code max_image_pixels})
     * @param truncated what to do with truncated bytes ({@code truncated_images})
     * @return (3, H, W) float32 RGB, 0..255, owned by the caller
     * @throws ImageTooLargeException if the header declares more than {@code maxPixels} pixels
     * @throws DataException if the bytes are empty, not in a supported format, not a decodable image, or truncated
     *     and {@code truncated} is not {@code LOAD}; the message says so and gives the byte count
     * @throws IllegalArgumentException if {@code maxPixels < 1}
     */
    public static Tensor readRgbChw(byte[] encoded, long maxPixels, TruncatedImages truncated) {
        return read(encoded, maxPixels, truncated, ExifOrientationMode.APPLY).rgbChw();
    }

    /**
     * Decodes an encoded image once, as {@link #readRgbChw(byte[], long, TruncatedImages)} does, in the frame that
     * {@code exif} gives, with its size.
     *
     * @param encoded the file's bytes (not modified)
     * @param maxPixels the largest accepted {@code width * height} ({@code max_image_pixels})
     * @param truncated what to do with truncated bytes ({@code truncated_images})
     * @param exif whether the EXIF orientation is applied ({@code exif_orientation})
     * @return the pixels, owned by the caller, and their size; {@link DecodedImage#source()} is null
     * @throws ImageTooLargeException if the header declares more than {@code maxPixels} pixels
     * @throws DataException as {@link #readRgbChw(byte[], long, TruncatedImages)}
     * @throws IllegalArgumentException if {@code maxPixels < 1}
     */
    public static DecodedImage read(byte[] encoded, long maxPixels, TruncatedImages truncated,
                                    ExifOrientationMode exif) {
        checkLimit(maxPixels);
        String what = "encoded image (" + (encoded == null ? 0 : encoded.length) + " bytes)";
        if (encoded == null || encoded.length == 0) throw new DataException(null, what + ": empty");
        checkHeader(null, encoded, maxPixels);
        return decode(whole(encoded, null, what, truncated, true), null, what, exif);
    }

    /**
     * The bytes to decode: {@code bytes} itself when complete; completed ({@link ImageEnd#completed}) when truncated
     * and the policy is {@code LOAD} (warning once if {@code warn}); else a {@link DataException}.
     */
    private static byte[] whole(byte[] bytes, Path path, String what, TruncatedImages truncated, boolean warn) {
        String missing = ImageEnd.missingEnd(bytes);
        if (missing == null) return bytes;
        if (truncated != TruncatedImages.LOAD) {
            throw new DataException(path, prefix(what) + missing + ": the file is truncated (truncated_images: "
                    + truncated.configName() + "; 'load' decodes what is there)");
        }
        if (warn) {
            LOG.warn("{}{}: the file is truncated; decoding what is there (truncated_images: load)",
                    path == null ? prefix(what) : path + ": ", missing);
        }
        return ImageEnd.completed(bytes);
    }

    /**
     * Whether bytes decode at all (OpenCV), without making a tensor: the up-front check's trial of a truncated file
     * before {@code load} relies on it.
     *
     * @return {@code {height, width}} of the decoded image, or null if OpenCV cannot decode the bytes
     */
    static int[] trialDecode(byte[] bytes) {
        try (PointerScope scope = new PointerScope()) {
            Mat bgr = imdecode(new Mat(bytes), IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION);
            if (bgr == null || bgr.isNull() || bgr.empty()) return null;
            return new int[] {bgr.rows(), bgr.cols()};
        } catch (RuntimeException e) {
            return null;
        }
    }

    /**
     * Converts a {@link BufferedImage} into the tensor {@link #readRgbChw(Path)} gives for the same pixels: the
     * sRGB values of {@link BufferedImage#getRGB(int, int, int, int, int[], int, int)} (alpha ignored), so an
     * image read with {@code ImageIO} from a PNG gives exactly the PNG's pixels. (It is already decoded, so the
     * caller's own decoder is where a pixel limit applies.)
     *
     * @param image any image type
     * @return (3, H, W) float32 RGB, 0..255, owned by the caller
     * @throws IllegalArgumentException if the image is null
     */
    public static Tensor fromBufferedImage(BufferedImage image) {
        if (image == null) throw new IllegalArgumentException("image must not be null");
        int h = image.getHeight(), w = image.getWidth();
        int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
        float[] chw = new float[3 * h * w];
        int plane = h * w;
        for (int i = 0; i < plane; i++) {
            int p = argb[i];
            chw[i] = (p >> 16) & 0xFF;
            chw[plane + i] = (p >> 8) & 0xFF;
            chw[2 * plane + i] = p & 0xFF;
        }
        return dev.frcnn.tensor.Tensors.fromFloats(chw, 3, h, w);
    }

    private static void checkLimit(long maxPixels) {
        if (maxPixels < 1) throw new IllegalArgumentException("maxPixels must be >= 1, got " + maxPixels);
    }

    /**
     * imdecode as BGR (in the caller's scope) after the PNG chunk check ({@link PngChunks}), then the EXIF orientation
     * of those bytes under {@code exif}.
     */
    private static Mat decodeBgr(byte[] bytes, Path path, String what, ExifOrientationMode exif) {
        boolean png = bytes.length >= 8 && (bytes[0] & 0xFF) == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G';
        byte[] checked = png ? PngChunks.verified(path, bytes, what) : bytes;
        Mat buf = new Mat(checked);
        Mat bgr;
        try {
            bgr = imdecode(buf, IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION);
        } catch (RuntimeException e) {
            throw new DataException(path, prefix(what) + "not a decodable image (" + e.getMessage() + ")", e);
        }
        if (bgr == null || bgr.isNull() || bgr.empty() || bgr.channels() != 3 || bgr.depth() != CV_8U) {
            throw new DataException(path, prefix(what) + "not a decodable image (OpenCV could not decode its "
                    + bytes.length + " bytes)");
        }
        return oriented(bgr, exif.orientationOf(checked));
    }

    /**
     * The image as shown with EXIF orientation {@code orientation} (in the caller's scope), {@link ExifOrientation}'s
     * table: 2 mirrors left to right, 3 rotates 180 degrees, 4 mirrors top to bottom, 5 transposes, 6 rotates 90 degrees
     * clockwise, 7 transposes and rotates 180 degrees (the anti-diagonal mirror), 8 rotates 90 degrees
     * counter-clockwise; 1 (and anything else) leaves it as it is.
     */
    static Mat oriented(Mat m, int orientation) {
        if (orientation < 2 || orientation > 8) return m;
        Mat out = new Mat();
        switch (orientation) {
            case 2 -> flip(m, out, 1);
            case 3 -> rotate(m, out, ROTATE_180);
            case 4 -> flip(m, out, 0);
            case 5 -> transpose(m, out);
            case 6 -> rotate(m, out, ROTATE_90_CLOCKWISE);
            case 7 -> {
                Mat t = new Mat();
                transpose(m, t);
                flip(t, out, -1);
            }
            default -> rotate(m, out, ROTATE_90_COUNTERCLOCKWISE);
        }
        return out;
    }

    private static DecodedImage decode(byte[] bytes, Path path, String what, ExifOrientationMode exif) {
        PointerScope outer = PointerScope.getInnerScope();
        Tensor out;
        int h, w;
        try (PointerScope scope = new PointerScope()) {
            Mat bgr = decodeBgr(bytes, path, what, exif);
            h = bgr.rows();
            w = bgr.cols();
            Mat rgb = new Mat();
            cvtColor(bgr, rgb, COLOR_BGR2RGB);
            if (!rgb.isContinuous()) rgb = rgb.clone();
            Tensor hwc = from_blob(rgb.data(), new long[] {rgb.rows(), rgb.cols(), 3},
                    new TensorOptions(ScalarType.Byte));
            // to(Float) copies out of the Mat's memory before the scope frees it.
            out = hwc.permute(2, 0, 1).to(ScalarType.Float).contiguous();
            out.retainReference();
        }
        return new DecodedImage(Scopes.handOver(out, outer), h, w, path);
    }

    /**
     * Reads the header of an image file's bytes and checks its pixel count, without decoding.
     *
     * @param path the file, for messages ({@code null} for bytes from elsewhere)
     * @param bytes its content
     * @param maxPixels the largest accepted {@code width * height}
     * @return the header
     * @throws ImageTooLargeException if it declares more than {@code maxPixels} pixels
     * @throws DataException if the header is not one of {@link ImageHeader#FORMATS} or is malformed
     */
    public static ImageHeader checkHeader(Path path, byte[] bytes, long maxPixels) {
        ImageHeader h;
        try {
            h = ImageHeader.parse(bytes);
        } catch (ImageHeader.MalformedHeaderException e) {
            throw new DataException(path, (path == null ? "encoded image (" + bytes.length + " bytes): " : "")
                    + "not a decodable image (" + e.getMessage() + ")");
        }
        if (h.pixels() > maxPixels) throw new ImageTooLargeException(path, h, maxPixels);
        return h;
    }

    /** Bytes read first by {@link #readHeader}: enough for every format's header but JPEGs with large APP segments. */
    private static final int HEADER_PREFIX = 64 * 1024;

    /**
     * Reads an image file's header only (its first 64 KiB; the whole file only if the header lies beyond them, e.g.
     * a JPEG with large metadata segments) and checks the pixel limit, without decoding: the cheap check that
     * {@code bin/frcnn detect} runs on every input before it loads the weights.
     *
     * @param path an image file
     * @param maxPixels the largest accepted {@code width * height} ({@code max_image_pixels})
     * @return the header
     * @throws ImageTooLargeException if it declares more than {@code maxPixels} pixels
     * @throws DataException if the file is missing, not a regular file, unreadable, empty or its header is not one of
     *     {@link ImageHeader#FORMATS}; the message names the file
     */
    public static ImageHeader readHeader(Path path, long maxPixels) {
        return readHeader(path, maxPixels, ExifOrientationMode.IGNORE);
    }

    /**
     * As {@link #readHeader(Path, long)}, with the size in the frame that {@code exif} decodes the image in: under
     * {@link ExifOrientationMode#APPLY}, width and height are swapped for EXIF orientations 5 to 8
     * ({@link ImageHeader#oriented}). The tag is read from the same first bytes (the whole file only if its metadata
     * lies beyond them).
     *
     * @param path an image file
     * @param maxPixels the largest accepted {@code width * height} ({@code max_image_pixels})
     * @param exif whether the EXIF orientation will be applied ({@code exif_orientation})
     * @return the header, oriented
     * @throws ImageTooLargeException if it declares more than {@code maxPixels} pixels
     * @throws DataException as {@link #readHeader(Path, long)}
     */
    public static ImageHeader readHeader(Path path, long maxPixels, ExifOrientationMode exif) {
        checkLimit(maxPixels);
        if (Files.isDirectory(path)) throw new DataException(path, "is a directory, not an image file");
        byte[] prefix;
        long size;
        try (java.io.InputStream in = Files.newInputStream(path)) {
            size = Files.size(path);
            prefix = in.readNBytes(HEADER_PREFIX);
        } catch (IOException e) {
            throw DataException.readFailure(path, "image file", e);
        }
        if (prefix.length == 0) throw new DataException(path, "image file is empty");
        if (size > prefix.length) {
            try {
                ImageHeader.parse(prefix);
            } catch (ImageHeader.MalformedHeaderException e) {
                byte[] all = readBytes(path); // the header may lie beyond the prefix
                return checkHeader(path, all, maxPixels).oriented(exif.orientationOf(all));
            }
        }
        ImageHeader h = checkHeader(path, prefix, maxPixels);
        if (exif == ExifOrientationMode.IGNORE) return h;
        int orientation = ExifOrientation.readPrefix(prefix);
        if (orientation == ExifOrientation.UNDECIDED) orientation = size > prefix.length
                ? ExifOrientation.read(readBytes(path)) : ExifOrientation.NORMAL; // metadata beyond the prefix
        return h.oriented(orientation);
    }

    private static String prefix(String what) {
        return what == null ? "" : what + ": ";
    }

    /** The bytes of an image file; a {@link DataException} naming the file if it is missing, a directory, unreadable or empty. */
    static byte[] readBytes(Path path) {
        if (Files.isDirectory(path)) throw new DataException(path, "is a directory, not an image file");
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw DataException.readFailure(path, "image file", e);
        }
        if (bytes.length == 0) throw new DataException(path, "image file is empty");
        return bytes;
    }
}
