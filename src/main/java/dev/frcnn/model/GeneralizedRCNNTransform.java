package dev.frcnn.model;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.stack;

/**
 * torchvision 0.14's {@code GeneralizedRCNNTransform} for inference: each image is normalised, then resized, then
 * the images are padded into one batch ({@link ImageList#pad}); detections are mapped back to the original frame by
 * {@link #postprocessBoxes}.
 *
 * <p>The exact steps, as torchvision:
 * <ol>
 *   <li>normalise first: {@code (x - mean[c]) / std[c]} with float32 mean and std, on RGB in [0, 1];</li>
 *   <li>resize: {@code scale = min(min_size / short, max_size / long)} in float32 (torchvision divides a float32
 *       tensor: {@code reciprocal(side) * size}); the output size is {@code floor(side * scale)} in double (PyTorch's
 *       {@code interpolate(scale_factor=scale, recompute_scale_factor=True)}), and the bilinear interpolation
 *       ({@code align_corners=False}) samples with the ratio in/out of the sizes ({@link #resize} has the exact
 *       arithmetic of PyTorch 1.13's kernel, which LibTorch 2.10's differs from);</li>
 *   <li>pad bottom/right with zeros to a multiple of {@code size_divisible} (32), zeros in normalised space.</li>
 * </ol>
 *
 * <p>This is not the reference family's preprocessing ({@code dev.frcnn.data.Preprocess}: scale to [0, 1], scipy
 * resize, then normalise); the two are kept apart.
 */
public final class GeneralizedRCNNTransform {
    /** torchvision's default {@code min_size}. */
    public static final int DEFAULT_MIN_SIZE = 800;
    /** torchvision's default {@code max_size}. */
    public static final int DEFAULT_MAX_SIZE = 1333;
    /** torchvision's {@code size_divisible}. */
    public static final int DEFAULT_SIZE_DIVISIBLE = 32;
    /** ImageNet mean of RGB in [0, 1] ({@code image_mean}). */
    public static final double[] IMAGENET_MEAN = {0.485, 0.456, 0.406};
    /** ImageNet standard deviation of RGB in [0, 1] ({@code image_std}). */
    public static final double[] IMAGENET_STD = {0.229, 0.224, 0.225};

    private final int minSize;
    private final int maxSize;
    private final float[] mean;
    private final float[] std;
    private final int sizeDivisible;

    /** torchvision's defaults: min 800, max 1333, ImageNet mean and std, padding to 32. */
    public GeneralizedRCNNTransform() {
        this(DEFAULT_MIN_SIZE, DEFAULT_MAX_SIZE, IMAGENET_MEAN, IMAGENET_STD, DEFAULT_SIZE_DIVISIBLE);
    }

    /**
     * @param minSize target length of the short side ({@code min_size})
     * @param maxSize upper bound of the long side ({@code max_size})
     * @param mean per-channel mean (3 values, RGB), used as float32
     * @param std per-channel standard deviation (3 values, RGB), used as float32
     * @param sizeDivisible the padded height and width are multiples of this
     * @throws IllegalArgumentException for non-positive sizes, or mean/std without 3 values or a non-positive std
     */
    public GeneralizedRCNNTransform(int minSize, int maxSize, double[] mean, double[] std, int sizeDivisible) {
        if (minSize <= 0 || maxSize <= 0) {
            throw new IllegalArgumentException("min_size and max_size must be > 0, got " + minSize + ", " + maxSize);
        }
        if (sizeDivisible < 1) throw new IllegalArgumentException("size_divisible must be >= 1, got " + sizeDivisible);
        if (mean == null || std == null || mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("image_mean and image_std need 3 values (RGB)");
        }
        this.minSize = minSize;
        this.maxSize = maxSize;
        this.mean = new float[3];
        this.std = new float[3];
        for (int c = 0; c < 3; c++) {
            if (!(std[c] > 0)) throw new IllegalArgumentException("image_std must be > 0, got " + Arrays.toString(std));
            this.mean[c] = (float) mean[c];
            this.std[c] = (float) std[c];
        }
        this.sizeDivisible = sizeDivisible;
    }

    /** The short side's target ({@code min_size}). */
    public int minSize() { return minSize; }

    /** The long side's bound ({@code max_size}). */
    public int maxSize() { return maxSize; }

    /** The padding divisor ({@code size_divisible}). */
    public int sizeDivisible() { return sizeDivisible; }

    /**
     * torchvision's {@code to_tensor} of decoded pixels: {@code float32(pixel) / 255}, channels first.
     *
     * @param hwc (H, W, 3) RGB pixels of any integer or float dtype holding values 0..255
     * @return (3, H, W) float32 in [0, 1], on the input's device
     */
    public static Tensor toTensor(Tensor hwc) {
        if (hwc.dim() != 3 || hwc.size(2) != 3) {
            throw new IllegalArgumentException("expected (H, W, 3) RGB pixels, got " + Arrays.toString(hwc.sizes().vec().get()));
        }
        return hwc.permute(2, 0, 1).contiguous().to(ScalarType.Float).div(new Scalar(255.0));
    }

    /**
     * The resize scale, as torchvision computes it: float32 {@code min(min_size / short, max_size / long)}.
     *
     * @param height image height in pixels
     * @param width image width in pixels
     * @return the scale (a float32 value)
     */
    public float scale(int height, int width) {
        float shortSide = Math.min(height, width);
        float longSide = Math.max(height, width);
        // torchvision: self_min_size / min_size on a float32 tensor = reciprocal(min_size) * self_min_size
        float a = (1.0f / shortSide) * (float) minSize;
        float b = (1.0f / longSide) * (float) maxSize;
        return Math.min(a, b);
    }

    /**
     * The resized size: {@code floor(side * scale)} per side (in double, as PyTorch's {@code interpolate}).
     *
     * @param original the image's size
     * @return the size after {@link #resize}
     */
    public ImageSize resizedSize(ImageSize original) {
        double s = scale(original.height(), original.width());
        return new ImageSize((int) Math.floor(original.height() * s), (int) Math.floor(original.width() * s));
    }

    /**
     * Normalises one image: {@code (x - mean[c]) / std[c]}.
     *
     * @param image (3, H, W) float32 RGB in [0, 1]
     * @return (3, H, W) float32, on the image's device
     * @throws IllegalArgumentException if the image is not (3, H, W) float32
     */
    public Tensor normalize(Tensor image) {
        if (image.dim() != 3 || image.size(0) != 3 || !dev.frcnn.tensor.Tensors.isType(image, ScalarType.Float)) {
            throw new IllegalArgumentException("expected a (3, H, W) float32 RGB image, got "
                    + Arrays.toString(image.sizes().vec().get()) + " " + image.scalar_type());
        }
        Tensor m = dev.frcnn.tensor.Tensors.fromFloats(mean, 3, 1, 1).to(image.device(), ScalarType.Float);
        Tensor s = dev.frcnn.tensor.Tensors.fromFloats(std, 3, 1, 1).to(image.device(), ScalarType.Float);
        return image.sub(m).div(s);
    }

    /**
     * Resizes one (normalised) image bilinearly to {@link #resizedSize}, as PyTorch 1.13's CPU
     * {@code upsample_bilinear2d} ({@code align_corners=False}, no scale given): per axis the ratio
     * {@code r = float32(in / out)}, the source position {@code src = max(0, r * (i + 0.5) - 0.5)} evaluated in double,
     * {@code i0 = floor(src)}, {@code i1 = min(i0 + 1, in - 1)}, {@code l1 = float32(src - i0)},
     * {@code l0 = float32(1 - (src - i0))}; the output is {@code (x[i0,j0] * m0 + x[i0,j1] * m1) * l0 + (x[i1,j0] * m0
     * + x[i1,j1] * m1) * l1} in float32 (width first). LibTorch 2.10's own kernel computes the source position in
     * float32 and differs from torchvision 0.14's pixels by up to 2.4e-5 (public fixture); this form agrees to
     * 2.4e-7.
     *
     * @param image (C, H, W) float32
     * @return (C, floor(H * scale), floor(W * scale)) float32, on the image's device
     */
    public Tensor resize(Tensor image) {
        int inH = (int) image.size(1);
        int inW = (int) image.size(2);
        ImageSize out = resizedSize(new ImageSize(inH, inW));
        Axis h = Axis.of(inH, out.height());
        Axis w = Axis.of(inW, out.width());
        org.bytedeco.pytorch.Device dev = image.device();
        Tensor top = image.index_select(1, h.i0(dev));
        Tensor bottom = image.index_select(1, h.i1(dev));
        Tensor m0 = w.l0(dev).view(1, 1, -1);
        Tensor m1 = w.l1(dev).view(1, 1, -1);
        Tensor w0 = w.i0(dev);
        Tensor w1 = w.i1(dev);
        Tensor r0 = top.index_select(2, w0).mul(m0).add(top.index_select(2, w1).mul(m1));
        Tensor r1 = bottom.index_select(2, w0).mul(m0).add(bottom.index_select(2, w1).mul(m1));
        return r0.mul(h.l0(dev).view(1, -1, 1)).add(r1.mul(h.l1(dev).view(1, -1, 1)));
    }

    /** One axis of the bilinear resize: source indices and weights per output position. */
    private record Axis(long[] idx0, long[] idx1, float[] lambda0, float[] lambda1) {
        static Axis of(int in, int out) {
            float ratio = (float) ((double) in / out);
            long[] i0 = new long[out];
            long[] i1 = new long[out];
            float[] l0 = new float[out];
            float[] l1 = new float[out];
            for (int i = 0; i < out; i++) {
                double src = Math.max(0.0, (double) ratio * (i + 0.5) - 0.5);
                long lo = (long) Math.floor(src);
                double frac = Math.min(Math.max(src - lo, 0.0), 1.0);
                i0[i] = lo;
                i1[i] = lo < in - 1 ? lo + 1 : lo;
                l1[i] = (float) frac;
                l0[i] = (float) (1.0 - frac);
            }
            return new Axis(i0, i1, l0, l1);
        }

        Tensor i0(org.bytedeco.pytorch.Device d) { return dev.frcnn.tensor.Tensors.fromLongs(idx0, idx0.length).to(d, ScalarType.Long); }

        Tensor i1(org.bytedeco.pytorch.Device d) { return dev.frcnn.tensor.Tensors.fromLongs(idx1, idx1.length).to(d, ScalarType.Long); }

        Tensor l0(org.bytedeco.pytorch.Device d) { return dev.frcnn.tensor.Tensors.fromFloats(lambda0, lambda0.length).to(d, ScalarType.Float); }

        Tensor l1(org.bytedeco.pytorch.Device d) { return dev.frcnn.tensor.Tensors.fromFloats(lambda1, lambda1.length).to(d, ScalarType.Float); }
    }

    /**
     * The whole inference transform: normalise, resize and pad each image into one batch.
     *
     * @param images (3, H, W) float32 RGB images in [0, 1], same device; at least one
     * @return the padded batch (N, 3, Hp, Wp) with each image's resized (unpadded) size
     */
    public ImageList apply(List<Tensor> images) {
        List<Tensor> resized = new ArrayList<>(images.size());
        for (Tensor im : images) resized.add(resize(normalize(im)));
        return ImageList.pad(resized, sizeDivisible);
    }

    /**
     * torchvision's {@code resize_boxes} in training ({@code GeneralizedRCNNTransform.resize} of the targets): gt boxes
     * from the original frame into the resized one, {@code x * (float32(resized_w) / float32(orig_w))}, {@code y}
     * likewise (the ratio in float32, as torchvision's 0-dim float32 tensors); no clipping.
     *
     * @param boxes (G, 4) float32 (x1, y1, x2, y2) in original-image pixels
     * @param original the original image size
     * @param resized the resized size
     * @return (G, 4) float32 (x1, y1, x2, y2) in resized-image pixels
     */
    public static Tensor resizeBoxes(Tensor boxes, ImageSize original, ImageSize resized) {
        float rh = (float) resized.height() / (float) original.height();
        float rw = (float) resized.width() / (float) original.width();
        Scalar sw = new Scalar((double) rw);
        Scalar sh = new Scalar((double) rh);
        return stack(new TensorVector(boxes.select(1, 0).mul(sw), boxes.select(1, 1).mul(sh),
                boxes.select(1, 2).mul(sw), boxes.select(1, 3).mul(sh)), 1);
    }

    /**
     * torchvision's {@code transform.postprocess} ({@code resize_boxes}): boxes from the resized frame to the
     * original one, {@code x * float32(orig_w) / float32(resized_w)}, {@code y} likewise; no clipping.
     *
     * @param boxes (R, 4) float32 (x1, y1, x2, y2) in resized-image pixels
     * @param resized the resized size the boxes refer to
     * @param original the original image size
     * @return (R, 4) float32 (x1, y1, x2, y2) in original-image pixels
     */
    public static Tensor postprocessBoxes(Tensor boxes, ImageSize resized, ImageSize original) {
        float rh = (float) original.height() / (float) resized.height();
        float rw = (float) original.width() / (float) resized.width();
        Scalar sw = new Scalar((double) rw);
        Scalar sh = new Scalar((double) rh);
        return stack(new TensorVector(boxes.select(1, 0).mul(sw), boxes.select(1, 1).mul(sh),
                boxes.select(1, 2).mul(sw), boxes.select(1, 3).mul(sh)), 1);
    }
}
