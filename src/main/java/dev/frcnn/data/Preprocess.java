package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.FloatBuffer;
import java.nio.file.Path;

import static org.bytedeco.pytorch.global.torch.empty;
import static org.bytedeco.pytorch.global.torch.stack;
import static org.bytedeco.pytorch.global.torch.tensor;

/**
 * Image and box preprocessing of the reference: {@code data/dataset.preprocess} (scale, resize,
 * normalise) and {@code data/util.resize_bbox}, {@code flip_bbox} and the flip of {@code random_flip}.
 *
 * <p>All functions take and return LibTorch tensors and run on the tensor's device (CPU or CUDA). Images
 * are (C, H, W) float32; boxes are (R, 4) float32 in pixels, ordered (ymin, xmin, ymax, xmax). Returned
 * tensors belong to the caller's current {@code PointerScope} (if any); temporaries are freed inside.
 *
 * <p>The resize is our own re-statement of {@code skimage.transform.resize(order=1, mode='reflect',
 * anti_aliasing=False)} (scikit-image 0.19 = {@code scipy.ndimage.zoom(order=1, mode='mirror',
 * grid_mode=True)}) in LibTorch ops, not OpenCV's {@code resize}: see {@code docs/preprocessing.md}.
 */
@SuppressWarnings("try") // PointerScope blocks free temporaries; the scope variable is unused by design
public final class Preprocess {
    private Preprocess() {}

    /** Caffe mean subtracted from the (B, G, R) channels, exactly the reference's constants. */
    public static final double[] CAFFE_MEAN = {122.7717, 115.9465, 102.9801};
    /** torchvision ImageNet mean of the (R, G, B) channels. */
    public static final double[] TORCHVISION_MEAN = {0.485, 0.456, 0.406};
    /** torchvision ImageNet std of the (R, G, B) channels. */
    public static final double[] TORCHVISION_STD = {0.229, 0.224, 0.225};

    /**
     * The reference's scale factor: {@code min(min_size / min(H, W), max_size / max(H, W))} in float64.
     *
     * @param h image height in pixels (&gt; 0)
     * @param w image width in pixels (&gt; 0)
     * @param minSize target length of the shorter side (reference default 600; the setting is validated by
     *     {@link Preprocessing})
     * @param maxSize upper bound of the longer side (reference default 1000)
     * @return the scale applied to both axes
     * @throws IllegalArgumentException if a side of the image is not positive
     */
    public static double scale(long h, long w, int minSize, int maxSize) {
        if (h <= 0 || w <= 0) throw new IllegalArgumentException("image size must be positive, got " + h + "x" + w);
        double scale1 = (double) minSize / Math.min(h, w);
        double scale2 = (double) maxSize / Math.max(h, w);
        return Math.min(scale1, scale2);
    }

    /**
     * Output size of one axis of {@code skimage.transform.resize(img, requested)}: scikit-image passes the
     * zoom {@code 1 / (in / requested)} to {@code scipy.ndimage.zoom}, which rounds {@code in * zoom}
     * half-to-even.
     *
     * @param in input length
     * @param requested requested (fractional) output length, e.g. {@code H * scale}
     * @return the integer output length
     */
    public static long resizedLength(long in, double requested) {
        double factor = in / requested;
        double zoom = 1.0 / factor;
        return (long) Math.rint(in * zoom);
    }

    /**
     * The size {@link #preprocess} resizes an image to: {@link #resizedLength} of each side at {@link #scale}.
     *
     * @param h image height in pixels (&gt; 0)
     * @param w image width in pixels (&gt; 0)
     * @param minSize reference {@code min_size}
     * @param maxSize reference {@code max_size}
     * @return {@code {H', W'}}; a side may be 0 for an extreme aspect ratio (e.g. 1 x 20000 at max_size 1000)
     * @throws IllegalArgumentException if a size is not positive
     */
    public static long[] resizedSize(long h, long w, int minSize, int maxSize) {
        double s = scale(h, w, minSize, maxSize);
        return new long[] {resizedLength(h, h * s), resizedLength(w, w * s)};
    }

    /**
     * Refuses an image whose resized size ({@link #resizedSize}) has a side below {@code minSide}.
     *
     * @param file the image file, for the message ({@code null} if none)
     * @param h image height in pixels (&gt; 0)
     * @param w image width in pixels (&gt; 0)
     * @param minSize reference {@code min_size}
     * @param maxSize reference {@code max_size}
     * @param minSide the smallest accepted side after the resize (&gt;= 1; the backbone's smallest input)
     * @throws ImageTooSmallException naming the file, both sizes, {@code min_size}, {@code max_size} and
     *     {@code minSide}
     */
    public static void checkResizable(Path file, long h, long w, int minSize, int maxSize, int minSide) {
        long[] hw = resizedSize(h, w, minSize, maxSize);
        if (hw[0] < Math.max(1, minSide) || hw[1] < Math.max(1, minSide)) {
            throw new ImageTooSmallException(file, w, h, hw[1], hw[0], minSize, maxSize, Math.max(1, minSide));
        }
    }

    /**
     * {@code data/dataset.preprocess(img, min_size, max_size)}: scale so that the shorter side becomes
     * {@code minSize} unless the longer side would exceed {@code maxSize}; {@code img / 255}; resize as
     * {@link #resizeTo}; normalise.
     *
     * @param chw (C, H, W) float32 image, RGB, values 0..255 (as from {@link ImageReader#readRgbChw}),
     *     any device
     * @param minSize reference {@code min_size}
     * @param maxSize reference {@code max_size}
     * @param norm which normalisation
     * @return (C, H', W') float32 on the input's device, H' = round(H * scale), W' = round(W * scale)
     * @throws IllegalArgumentException if the input is not a (3, H, W) float32 tensor
     * @throws ImageTooSmallException (naming no file) if H' or W' would be 0
     */
    public static Tensor preprocess(Tensor chw, int minSize, int maxSize, Normalization norm) {
        checkImage(chw);
        long h = chw.size(1), w = chw.size(2);
        checkResizable(null, h, w, minSize, maxSize, 1);
        double s = scale(h, w, minSize, maxSize);
        PointerScope outer = PointerScope.getInnerScope();
        Tensor out;
        try (PointerScope scope = new PointerScope()) {
            Tensor x = chw.div(new Scalar(255.0));
            Tensor r = resize(x, h * s, w * s);
            out = normalize(r, norm);
            out.retainReference();
        }
        return Scopes.handOver(out, outer);
    }

    /**
     * {@code skimage.transform.resize(img, (C, reqH, reqW), mode='reflect', anti_aliasing=False)} on a
     * (C, H, W) image: the output size is {@link #resizedLength} per axis, then {@link #resizeTo}.
     *
     * @param chw (C, H, W) float32, any device
     * @param requestedH requested height (fractional, e.g. {@code H * scale})
     * @param requestedW requested width
     * @return (C, H', W') float32
     */
    public static Tensor resize(Tensor chw, double requestedH, double requestedW) {
        return resizeTo(chw, resizedLength(chw.size(1), requestedH), resizedLength(chw.size(2), requestedW));
    }

    /**
     * Bilinear resize of a (C, H, W) image to (C, outH, outW) with exactly the arithmetic of
     * {@code scipy.ndimage.zoom(order=1, mode='mirror', grid_mode=True)} as scikit-image 0.19 calls it:
     * per axis the sample position is {@code p = (o + 0.5) * (in / out) - 0.5}, mirrored into range
     * ({@code -k -> k}, {@code n-1+k -> n-1-k}); the value is the linear interpolation between
     * {@code floor(p)} and {@code floor(p) + 1} (indices mirrored) with weights {@code 1 - t} and
     * {@code 1 - (1 - t)}, accumulated in float64 in scipy's order, rounded to float32 and clipped to the
     * input's [min, max] (scikit-image's {@code clip=True}). The channel axis is untouched.
     *
     * <p>It runs as one pass on the host over the tensors' memory (Java's float64 arithmetic is IEEE without fused
     * multiply-adds, so the result is scipy's, bit for bit), with no intermediate tensors and no copy on the Java
     * heap: the earlier LibTorch formulation (a float64 copy of the whole image and eight gathered/weighted planes)
     * cost about 70 ms per photograph on the data loader's thread and competed with the training step for the
     * cores. A CUDA input is copied to the host and the result back.
     *
     * @param chw (C, H, W) float32 (other float dtypes are converted), any device
     * @param outH output height (&gt; 0)
     * @param outW output width (&gt; 0)
     * @return (C, outH, outW) float32 on the input's device
     */
    public static Tensor resizeTo(Tensor chw, long outH, long outW) {
        if (chw.dim() != 3) throw new IllegalArgumentException("expected a (C, H, W) image, got " + shapeOf(chw));
        if (outH <= 0 || outW <= 0) throw new IllegalArgumentException("output size must be positive: " + outH + "x" + outW);
        long h = chw.size(1), w = chw.size(2);
        if (h <= 0 || w <= 0) throw new IllegalArgumentException("empty image " + shapeOf(chw));
        Axis ay = Axis.of(h, outH), ax = Axis.of(w, outW);
        int c = Math.toIntExact(chw.size(0));
        int oh = Math.toIntExact(outH), ow = Math.toIntExact(outW);
        int plane = Math.toIntExact(h * w), inW = (int) w;
        PointerScope outer = PointerScope.getInnerScope();
        Tensor result;
        try (PointerScope scope = new PointerScope()) {
            // Read and written in place through direct buffers: no copy of the photograph on the Java heap.
            Tensor src = chw.detach().to(ScalarType.Float).cpu().contiguous();
            FloatBuffer in = src.data_ptr_float().capacity(src.numel()).asBuffer();
            Tensor dst = empty(new long[] {c, oh, ow}, new TensorOptions(ScalarType.Float), null);
            FloatBuffer out = dst.data_ptr_float().capacity(dst.numel()).asBuffer();
            // scikit-image's clip=True: the output is clipped to the input's [min, max] (all channels).
            float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
            boolean nan = false;
            for (int i = 0, n = in.capacity(); i < n; i++) {
                float v = in.get(i);
                if (v < lo) lo = v;
                if (v > hi) hi = v;
                if (v != v) nan = true;
            }
            int[] y0 = ay.i0, y1 = ay.i1, x0 = ax.i0, x1 = ax.i1;
            double[] wy0 = ay.w0, wy1 = ay.w1, wx0 = ax.w0, wx1 = ax.w1;
            int o = 0;
            for (int k = 0; k < c; k++) {
                int base = k * plane;
                for (int oy = 0; oy < oh; oy++) {
                    int r0 = base + y0[oy] * inW, r1 = base + y1[oy] * inW;
                    double a0 = wy0[oy], a1 = wy1[oy];
                    for (int ox = 0; ox < ow; ox++) {
                        int c0 = x0[ox], c1 = x1[ox];
                        double b0 = wx0[ox], b1 = wx1[ox];
                        // scipy's order: t = 0; for (y, x) in (0,0), (0,1), (1,0), (1,1): t += ((v * wy) * wx)
                        double t = ((double) in.get(r0 + c0) * a0) * b0;
                        t += ((double) in.get(r0 + c1) * a0) * b1;
                        t += ((double) in.get(r1 + c0) * a1) * b0;
                        t += ((double) in.get(r1 + c1) * a1) * b1;
                        float f = (float) t;
                        out.put(o++, nan ? Float.NaN : f < lo ? lo : f > hi ? hi : f);
                    }
                }
            }
            result = chw.device().is_cpu() ? dst : dst.to(chw.device(), ScalarType.Float);
            result.retainReference();
        }
        return Scopes.handOver(result, outer);
    }

    /**
     * The reference's normalisation of a resized image in [0, 1] ({@code caffe_normalize} or
     * {@code pytorch_normalze}); see {@link Normalization} for the exact formulas.
     *
     * @param chw01 (3, H, W) float32, RGB, values in [0, 1], any device
     * @param norm which normalisation
     * @return (3, H, W) float32: RGB for {@link Normalization#TORCHVISION}, BGR for {@link Normalization#CAFFE}
     */
    public static Tensor normalize(Tensor chw01, Normalization norm) {
        checkImage(chw01);
        PointerScope outer = PointerScope.getInnerScope();
        Tensor out;
        try (PointerScope scope = new PointerScope()) {
            Device dev = chw01.device();
            if (norm == Normalization.CAFFE) {
                Tensor bgr = chw01.flip(0).mul(new Scalar(255.0));          // float32, as numpy's img * 255
                Tensor mean = Tensors.fromDoubles(CAFFE_MEAN, CAFFE_MEAN.length).to(dev, ScalarType.Double).view(3, 1, 1);
                out = bgr.to(ScalarType.Double).sub(mean).to(ScalarType.Float).contiguous();
            } else {
                Tensor mean = tensor(toFloats(TORCHVISION_MEAN)).to(dev, ScalarType.Float).view(3, 1, 1);
                Tensor std = tensor(toFloats(TORCHVISION_STD)).to(dev, ScalarType.Float).view(3, 1, 1);
                out = chw01.sub(mean).div(std).contiguous();
            }
            out.retainReference();
        }
        return Scopes.handOver(out, outer);
    }

    /**
     * {@code data/util.resize_bbox}: scales (ymin, ymax) by {@code outH / inH} and (xmin, xmax) by
     * {@code outW / inW}; the scale is computed in float64 and applied in float32, as numpy does.
     *
     * @param bbox (R, 4) float32 boxes (ymin, xmin, ymax, xmax) in pixels of the input image, any device
     * @param inH input image height
     * @param inW input image width
     * @param outH output image height
     * @param outW output image width
     * @return a new (R, 4) float32 tensor in pixels of the output image
     */
    public static Tensor resizeBbox(Tensor bbox, long inH, long inW, long outH, long outW) {
        checkBbox(bbox);
        float ys = (float) ((double) outH / inH);
        float xs = (float) ((double) outW / inW);
        PointerScope outer = PointerScope.getInnerScope();
        Tensor out;
        try (PointerScope scope = new PointerScope()) {
            Tensor f = tensor(new float[] {ys, xs, ys, xs}).to(bbox.device(), ScalarType.Float);
            out = bbox.mul(f).contiguous();
            out.retainReference();
        }
        return Scopes.handOver(out, outer);
    }

    /**
     * {@code data/util.flip_bbox}: mirrors boxes to match a flipped image of size (H, W). A vertical flip
     * maps (ymin, ymax) to (H - ymax, H - ymin); a horizontal flip maps (xmin, xmax) to (W - xmax, W - xmin).
     *
     * @param bbox (R, 4) float32 boxes (ymin, xmin, ymax, xmax) in pixels, any device
     * @param h image height
     * @param w image width
     * @param yFlip flip vertically
     * @param xFlip flip horizontally
     * @return a new (R, 4) float32 tensor
     */
    public static Tensor flipBbox(Tensor bbox, long h, long w, boolean yFlip, boolean xFlip) {
        checkBbox(bbox);
        PointerScope outer = PointerScope.getInnerScope();
        Tensor out;
        try (PointerScope scope = new PointerScope()) {
            Tensor ymin = bbox.select(1, 0), xmin = bbox.select(1, 1), ymax = bbox.select(1, 2), xmax = bbox.select(1, 3);
            if (yFlip) {
                Tensor nymin = ymax.neg().add(new Scalar((double) h));
                Tensor nymax = ymin.neg().add(new Scalar((double) h));
                ymin = nymin;
                ymax = nymax;
            }
            if (xFlip) {
                Tensor nxmin = xmax.neg().add(new Scalar((double) w));
                Tensor nxmax = xmin.neg().add(new Scalar((double) w));
                xmin = nxmin;
                xmax = nxmax;
            }
            out = stack(new TensorVector(ymin, xmin, ymax, xmax), 1).contiguous();
            out.retainReference();
        }
        return Scopes.handOver(out, outer);
    }

    /**
     * Flips a (C, H, W) image as {@code data/util.random_flip} does once its coin is tossed:
     * {@code img[:, ::-1, :]} (vertical) and/or {@code img[:, :, ::-1]} (horizontal).
     *
     * @param chw (C, H, W) image, any dtype and device
     * @param yFlip flip vertically
     * @param xFlip flip horizontally
     * @return a new contiguous tensor (a copy even when no flip is requested)
     */
    public static Tensor flipImage(Tensor chw, boolean yFlip, boolean xFlip) {
        if (chw.dim() != 3) throw new IllegalArgumentException("expected a (C, H, W) image, got " + shapeOf(chw));
        if (yFlip && xFlip) return chw.flip(1, 2);
        if (yFlip) return chw.flip(1);
        if (xFlip) return chw.flip(2);
        return chw.clone();
    }

    /** Per-axis sample indices and weights of the zoom (computed on the host in float64). */
    private record Axis(int[] i0, int[] i1, double[] w0, double[] w1) {
        static Axis of(long in, long out) {
            int n = Math.toIntExact(out);
            int[] i0 = new int[n], i1 = new int[n];
            double[] w0 = new double[n], w1 = new double[n];
            double zoom = (double) in / (double) out;
            for (int o = 0; o < n; o++) {
                double cc = o;
                cc += 0.5;
                cc *= zoom;
                cc -= 0.5;
                cc = mirrorCoordinate(cc, in);
                double fl = Math.floor(cc);
                long start = (long) fl;
                double t = cc - fl;
                w0[o] = 1.0 - t;
                w1[o] = 1.0 - w0[o];
                i0[o] = Math.toIntExact(mirrorIndex(start, in));
                i1[o] = Math.toIntExact(mirrorIndex(start + 1, in));
            }
            return new Axis(i0, i1, w0, w1);
        }

        /** scipy's {@code map_coordinate} for mode 'mirror'. */
        static double mirrorCoordinate(double in, long len) {
            if (in < 0) {
                if (len <= 1) return 0;
                long sz2 = 2 * len - 2;
                in = sz2 * (long) (-in / sz2) + in;
                return in <= 1 - len ? in + sz2 : -in;
            } else if (in > len - 1) {
                if (len <= 1) return 0;
                long sz2 = 2 * len - 2;
                in -= sz2 * (long) (in / sz2);
                if (in >= len) in = sz2 - in;
                return in;
            }
            return in;
        }

        /** scipy's mirror rule for the spline's edge indices. */
        static long mirrorIndex(long idx, long len) {
            if (len <= 1) return 0;
            long s2 = 2 * len - 2;
            if (idx < 0) {
                idx = s2 * (-idx / s2) + idx;
                return idx <= 1 - len ? idx + s2 : -idx;
            } else if (idx >= len) {
                idx -= s2 * (idx / s2);
                if (idx >= len) idx = s2 - idx;
            }
            return idx;
        }
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    private static void checkImage(Tensor chw) {
        if (chw.dim() != 3 || chw.size(0) != 3) {
            throw new IllegalArgumentException("expected a (3, H, W) image, got " + shapeOf(chw));
        }
        if (chw.scalar_type().value != ScalarType.Float.value) {
            throw new IllegalArgumentException("expected a float32 image, got dtype value " + chw.scalar_type().value);
        }
    }

    private static void checkBbox(Tensor bbox) {
        if (bbox.dim() != 2 || bbox.size(1) != 4) {
            throw new IllegalArgumentException("expected (R, 4) boxes, got " + shapeOf(bbox));
        }
        if (bbox.scalar_type().value != ScalarType.Float.value) {
            throw new IllegalArgumentException("expected float32 boxes, got dtype value " + bbox.scalar_type().value);
        }
    }

    private static String shapeOf(Tensor t) {
        return Tensors.shapeString(t);
    }
}
