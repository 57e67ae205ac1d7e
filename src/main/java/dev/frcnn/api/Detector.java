package dev.frcnn.api;

import dev.frcnn.assembly.LoadedModel;
import dev.frcnn.config.Config;
import dev.frcnn.data.DecodedImage;
import dev.frcnn.data.ImageReader;
import dev.frcnn.data.ImageTooSmallException;
import dev.frcnn.model.Detection;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.IntraOpThreads;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * A Faster R-CNN detector loaded once and called from any number of threads: the embeddable form of
 * {@code bin/frcnn detect} (the reference's {@code FasterRCNN.predict(imgs, visualize=True)} after
 * {@code use_preset}). Like DJL's {@code Predictor} or detectron2's {@code DefaultPredictor}, it takes raw images
 * and returns detections in the original image's pixels.
 *
 * <pre>{@code
 * try (Detector detector = Detector.load(Path.of("fasterrcnn.pth"))) {      // visualize preset, CPU
 *     for (Detection d : detector.detect(Path.of("street.jpg"))) {
 *         System.out.printf("%s %.2f %.1f %.1f %.1f %.1f%n",
 *                 d.label(), d.score(), d.xmin(), d.ymin(), d.xmax(), d.ymax());
 *     }
 * }
 * }</pre>
 *
 * <h2>Weights</h2>
 * {@link #load(Path, DetectorOptions)} takes every file {@code bin/frcnn --weights} takes: our {@code .ckpt}
 * checkpoints (they carry their config and class names), the reference's trained {@code .pth} checkpoints and plain
 * Faster R-CNN state dicts (described by {@link DetectorOptions#config()}, default the reference's VGG16 with the
 * 20 VOC classes). A backbone's ImageNet state dict (torchvision VGG16, ResNet, SqueezeNet) has no RPN or RoI head:
 * it is refused with a {@link dev.frcnn.io.WeightsFormatException} saying so (train a detector from it first).
 *
 * <h2>Concurrency</h2>
 * A detector is thread-safe, and {@code detect} calls from several threads run in parallel: the model is loaded
 * once in eval mode and prediction only reads it; each call's temporaries (decoded image, network input,
 * activations, proposals) belong to the calling thread, are freed before the call returns, and the thresholds are
 * an immutable part of the options, never shared mutable state. So concurrent calls return exactly the detections
 * that sequential calls return. Nothing is serialised except {@link #close()}, which waits for calls in progress
 * and then frees the model's native memory; a call that starts after {@code close()} throws
 * {@link IllegalStateException}.
 *
 * <p>Each call also uses LibTorch's intra-op thread pool (convolutions and matrix products split over
 * {@link DetectorOptions#intraOpThreads()} threads, by default one per core). This setting is process-wide, and
 * each caller thread runs its own parallel regions, so N concurrent callers use up to N x intraOpThreads
 * threads: for throughput with N callers, set intraOpThreads to about cores / N; for the lowest latency of a single
 * request, keep one caller and the default. {@code docs/embedding.md} has measurements.
 *
 * <h2>Memory</h2>
 * The weights live in native (LibTorch) memory outside the Java heap: VGG16 takes about 550 MB, plus
 * activations of a few hundred MB per concurrent call at 600x1000. {@link #close()} frees them. Resident memory
 * stays flat over any number of calls. Start the JVM with the glibc malloc settings of {@code docs/embedding.md}
 * ({@code MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736}) for {@code bin/frcnn}'s speed
 * (they matter most for training); the detector trims the C heap periodically under them.
 *
 * <h2>Errors</h2>
 * Loading: {@link java.nio.file.NoSuchFileException}, {@link dev.frcnn.io.WeightsFormatException} (not a
 * readable weights file) and its subclass {@link dev.frcnn.io.WeightsDoNotFitException} (tensors that do not fit
 * the configured model), {@link dev.frcnn.config.ConfigException} (a bad override); detecting:
 * {@link dev.frcnn.data.DataException} (a missing, unreadable or undecodable image) and its subclass
 * {@link dev.frcnn.data.ImageTooLargeException} (an image whose header declares more than
 * {@link DetectorOptions#maxImagePixels()} pixels, refused before decoding), {@link IllegalStateException}
 * (a closed detector). Messages name the file and the problem. Apart from a missing file, every error of the
 * caller's input (weights, config, images, device) is a {@link dev.frcnn.error.UserInputException} (unchecked;
 * {@code WeightsFormatException} is not an {@code IOException}); an {@code IOException} is a failed read.
 */
public final class Detector implements AutoCloseable {
    private final LoadedModel loaded;
    private final DetectorOptions options;
    private final Thresholds thresholds;
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed; // guarded by lifecycle

    static {
        dev.frcnn.tensor.NativeLibraries.ensureExtracted(); // before the first org.bytedeco.pytorch class loads
    }

    private Detector(LoadedModel loaded, DetectorOptions options) {
        this.loaded = loaded;
        this.options = options;
        this.thresholds = options.thresholds();
    }

    /**
     * Loads a detector with {@link DetectorOptions#defaults()} (the {@code visualize} preset on the CPU, as
     * {@code bin/frcnn detect}).
     *
     * @param weights a {@code .ckpt} or {@code .pth} file
     * @return the detector; close it to free its native memory
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws dev.frcnn.io.WeightsFormatException if it is not a readable weights file, or (as
     *     {@link dev.frcnn.io.WeightsDoNotFitException}) its tensors do not fit the model
     * @throws IOException on read errors
     */
    public static Detector load(Path weights) throws IOException {
        return load(weights, DetectorOptions.defaults());
    }

    /**
     * Loads a detector.
     *
     * @param weights a {@code .ckpt} or {@code .pth} file
     * @param options device, thresholds, sizes, threads, config for {@code .pth} files
     * @return the detector; close it to free its native memory
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws dev.frcnn.io.WeightsFormatException if it is not a readable weights file, holds a backbone's
     *     pretrained weights only, or (as {@link dev.frcnn.io.WeightsDoNotFitException}) its tensors do not fit the
     *     model
     * @throws dev.frcnn.config.ConfigException for a bad config override
     * @throws dev.frcnn.error.UserInputException for {@code cuda} where no CUDA device is available
     * @throws IOException on read errors
     */
    public static Detector load(Path weights, DetectorOptions options) throws IOException {
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(options, "options");
        LoadedModel.Plan plan = LoadedModel.plan(weights, options.config(), options::apply);
        IntraOpThreads.apply(options.intraOpThreads() > 0 ? options.intraOpThreads() : plan.config().threads());
        LoadedModel m = LoadedModel.load(plan, options.computeDevice().open());
        return new Detector(m, options);
    }

    /**
     * Detects objects in an image file.
     *
     * @param image a JPEG, PNG, BMP, ... file (decoded as {@link #decode(Path)} does: RGB, with its EXIF orientation
     *     applied unless the config's {@code exif_orientation} is {@code ignore})
     * @return detections in the image's pixels (as shown, after the EXIF orientation; under {@code ignore}, the
     *     stored pixels), grouped by class in class order (as {@code bin/frcnn detect}'s JSON);
     *     empty for an image in which the model finds nothing, tiny images included (a 1 x 1 image has no proposal)
     * @throws dev.frcnn.data.ImageTooLargeException if the header declares more pixels than the limit
     * @throws ImageTooSmallException if the preprocessing would resize it to a side below the backbone's smallest
     *     input (e.g. 1 x 20000 at max_size 1000 gives a 0-pixel side); the message names the file and both sizes
     * @throws dev.frcnn.data.DataException if the file is missing, unreadable or not a decodable image, or truncated
     *     (a JPEG without its end marker, a PNG without IEND) and the config's {@code truncated_images} is not
     *     {@code load} (with {@code load}, the default, it is decoded with one logged warning)
     * @throws IllegalStateException if the detector is closed
     */
    public List<Detection> detect(Path image) {
        Objects.requireNonNull(image, "image");
        try {
            return run(() -> decode(image).rgbChw());
        } catch (ImageTooSmallException e) {
            throw e.withFile(image);
        }
    }

    /**
     * Decodes an image file as {@link #detect(Path)} does (the config's {@code max_image_pixels},
     * {@code truncated_images} and {@code exif_orientation}), for a caller that also needs the pixels or the size
     * (to draw the boxes, to report the size): decode once, then {@link #detect(DecodedImage)}. Works on a closed
     * detector too (it uses no model memory).
     *
     * @param image a JPEG, PNG, BMP, ... file
     * @return the pixels and their size, in the frame the detections are in; owned by the caller (close it, or decode
     *     inside a {@code PointerScope})
     * @throws dev.frcnn.data.ImageTooLargeException if the header declares more pixels than the limit
     * @throws dev.frcnn.data.DataException as {@link #detect(Path)}
     */
    public DecodedImage decode(Path image) {
        Objects.requireNonNull(image, "image");
        Config c = loaded.config();
        return ImageReader.read(image, c.maxImagePixels(), c.truncatedImagesMode(), c.exifOrientationMode());
    }

    /**
     * Detects objects in an image decoded by {@link #decode(Path)} or {@link ImageReader#read}; it is not closed.
     *
     * @param image the decoded image
     * @return detections in its pixels, as {@link #detect(Path)} returns them
     * @throws ImageTooSmallException as {@link #detect(Path)} (naming {@link DecodedImage#source()} if known)
     * @throws IllegalStateException if the detector is closed
     */
    public List<Detection> detect(DecodedImage image) {
        Objects.requireNonNull(image, "image");
        try {
            return run(image::rgbChw);
        } catch (ImageTooSmallException e) {
            throw image.source() != null ? e.withFile(image.source()) : e;
        }
    }

    /**
     * Detects objects in the bytes of an encoded image (e.g. an HTTP request body).
     *
     * @param encodedImage the bytes of a JPEG, PNG, BMP, ... file (decoded as {@link #detect(Path)} decodes a file)
     * @return detections in the image's pixels (after its EXIF orientation unless {@code exif_orientation} is
     *     {@code ignore})
     * @throws dev.frcnn.data.DataException if the bytes are empty or not a decodable image, or truncated and
     *     {@code truncated_images} is not {@code load}
     * @throws IllegalStateException if the detector is closed
     */
    public List<Detection> detect(byte[] encodedImage) {
        Objects.requireNonNull(encodedImage, "encodedImage");
        Config c = loaded.config();
        return run(() -> ImageReader.read(encodedImage, c.maxImagePixels(), c.truncatedImagesMode(),
                c.exifOrientationMode()).rgbChw());
    }

    /**
     * Detects objects in an image already in memory; its sRGB pixels ({@code getRGB}) are used as they are (no EXIF
     * orientation: {@code ImageIO} reads none), alpha ignored.
     *
     * @param image any {@link BufferedImage}
     * @return detections in the image's pixels
     * @throws IllegalStateException if the detector is closed
     */
    public List<Detection> detect(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        return run(() -> ImageReader.fromBufferedImage(image));
    }

    /**
     * Detects objects in several image files, one after another on this thread (for parallelism, call
     * {@link #detect(Path)} from several threads).
     *
     * @param images image files
     * @return per image, in the same order, its detections
     * @throws dev.frcnn.data.DataException naming the first image that cannot be decoded
     * @throws IllegalStateException if the detector is closed
     */
    public List<List<Detection>> detectAll(List<Path> images) {
        List<List<Detection>> out = new ArrayList<>(images.size());
        for (Path p : images) out.add(detect(p));
        return List.copyOf(out);
    }

    private List<Detection> run(Supplier<Tensor> image) {
        Lock r = lifecycle.readLock();
        r.lock();
        try {
            if (closed) throw new IllegalStateException("detector for " + loaded.weights() + " is closed");
            try (PointerScope scope = new PointerScope()) {
                return loaded.model().detect(image.get(), loaded.preprocessing(), thresholds);
            }
        } finally {
            r.unlock();
        }
    }

    /** Foreground class names; {@link Detection#classIndex()} indexes this list. */
    public List<String> classNames() {
        return loaded.classNames();
    }

    /** The config the model was built from (the checkpoint's or the options', overrides applied). */
    public Config config() {
        return loaded.config();
    }

    /** The options it was loaded with. */
    public DetectorOptions options() {
        return options;
    }

    /** The weights file it was loaded from. */
    public Path weights() {
        return loaded.weights();
    }

    /**
     * Waits for calls in progress, then frees the model's native memory. Idempotent; later {@code detect} calls
     * throw {@link IllegalStateException}.
     */
    @Override
    public void close() {
        Lock w = lifecycle.writeLock();
        w.lock();
        try {
            if (closed) return;
            closed = true;
            loaded.model().close();
        } finally {
            w.unlock();
        }
    }
}
