package dev.frcnn.data;

import org.bytedeco.javacpp.indexer.UByteIndexer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.MatVector;
import org.bytedeco.opencv.opencv_core.Point;
import org.bytedeco.opencv.opencv_core.Size;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;
import static org.bytedeco.opencv.global.opencv_imgproc.*;

/**
 * Writes a small, deterministic dataset in the VOCdevkit/VOC2007 layout for the demo: coloured shapes
 * (circle, square, triangle, cross) on textured, cluttered backgrounds, with {@code train} and {@code test}
 * splits. Objects smaller than {@link #DIFFICULT_SIZE} pixels are marked {@code difficult}, as VOC marks hard
 * objects: training drops them and evaluation ignores them, as the reference does.
 *
 * <p>Annotations use VOC's 1-based pixel coordinates (the reference subtracts 1 when it reads them). The same
 * seed gives byte-identical files.
 */
public final class SyntheticVoc {
    /** The demo's classes, in label order. */
    public static final List<String> CLASS_NAMES = List.of("circle", "square", "triangle", "cross");
    /** Objects whose longer side is below this many pixels are flagged difficult. */
    public static final int DIFFICULT_SIZE = 20;

    private final long seed;
    private final int minSide;
    private final int maxSide;

    /**
     * @param seed random seed (same seed, same files)
     * @param minSide smallest image side in pixels
     * @param maxSide largest image side in pixels
     */
    public SyntheticVoc(long seed, int minSide, int maxSide) {
        if (minSide < 64 || maxSide < minSide) {
            throw new IllegalArgumentException("image sides must satisfy 64 <= minSide <= maxSide, got " + minSide + ", " + maxSide);
        }
        this.seed = seed;
        this.minSide = minSide;
        this.maxSide = maxSide;
    }

    /** One object: class index into {@link #CLASS_NAMES}, 0-based inclusive pixel box, difficult flag. */
    public record Obj(int label, int xmin, int ymin, int xmax, int ymax, boolean difficult) {}

    /**
     * Writes {@code nTrain + nTest} images under {@code root} (which becomes a VOC2007-style directory:
     * {@code JPEGImages/}, {@code Annotations/}, {@code ImageSets/Main/{train,test,trainval}.txt}).
     *
     * @return {@code root}
     * @throws UncheckedIOException if a file cannot be written
     */
    public Path write(Path root, int nTrain, int nTest) {
        try {
            Files.createDirectories(root.resolve("JPEGImages"));
            Files.createDirectories(root.resolve("Annotations"));
            Files.createDirectories(root.resolve("ImageSets/Main"));
            SplittableRandom rng = new SplittableRandom(seed);
            List<String> train = new ArrayList<>(), test = new ArrayList<>();
            for (int i = 0; i < nTrain + nTest; i++) {
                String id = String.format("%06d", i + 1);
                writeImage(root, id, rng.split());
                (i < nTrain ? train : test).add(id);
            }
            Files.write(root.resolve("ImageSets/Main/train.txt"), train);
            Files.write(root.resolve("ImageSets/Main/trainval.txt"), train);
            Files.write(root.resolve("ImageSets/Main/test.txt"), test);
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the demo dataset under " + root, e);
        }
    }

    private void writeImage(Path root, String id, SplittableRandom rng) throws IOException {
        int w = rng.nextInt(minSide, maxSide + 1), h = rng.nextInt(minSide, maxSide + 1);
        int[] bg = {rng.nextInt(40, 216), rng.nextInt(40, 216), rng.nextInt(40, 216)};
        Mat img = background(w, h, bg, rng);
        List<Obj> objs = new ArrayList<>();
        int nObj = rng.nextInt(1, 4);
        int small = rng.nextInt(4) == 0 ? 1 : 0; // now and then one extra tiny (difficult) object
        for (int k = 0, tries = 0; k < nObj + small && tries < 50; tries++) {
            boolean tiny = k >= nObj;
            int maxS = Math.min(Math.min(w, h) / 2, 96);
            int s = tiny ? rng.nextInt(10, DIFFICULT_SIZE) : rng.nextInt(24, Math.max(25, maxS));
            int sw = Math.max(8, (int) Math.round(s * (0.8 + 0.4 * rng.nextDouble())));
            int sh = Math.max(8, (int) Math.round(s * (0.8 + 0.4 * rng.nextDouble())));
            int x0 = rng.nextInt(0, w - sw), y0 = rng.nextInt(0, h - sh);
            Obj o = new Obj(rng.nextInt(CLASS_NAMES.size()), x0, y0, x0 + sw - 1, y0 + sh - 1,
                    Math.max(sw, sh) < DIFFICULT_SIZE);
            if (objs.stream().anyMatch(p -> overlap(p, o) > 0.1)) continue;
            drawShape(img, o, contrasting(bg, rng));
            objs.add(o);
            k++;
        }
        Path jpg = root.resolve("JPEGImages/" + id + ".jpg");
        if (!imwrite(jpg.toString(), img, new int[]{IMWRITE_JPEG_QUALITY, 95})) {
            throw new IOException(jpg + ": OpenCV could not write the image");
        }
        img.close();
        Files.writeString(root.resolve("Annotations/" + id + ".xml"), annotation(id, w, h, objs));
    }

    private static Mat background(int w, int h, int[] bg, SplittableRandom rng) {
        // Low-frequency colour field: a small random grid upsampled smoothly, plus clutter lines and noise.
        int gw = 5, gh = 5;
        Mat grid = new Mat(gh, gw, CV_8UC3);
        UByteIndexer gi = grid.createIndexer();
        for (int y = 0; y < gh; y++) {
            for (int x = 0; x < gw; x++) {
                for (int c = 0; c < 3; c++) gi.put(y, x, c, clamp(bg[c] + rng.nextInt(-35, 36)));
            }
        }
        gi.close();
        Mat img = new Mat();
        resize(grid, img, new Size(w, h), 0, 0, INTER_CUBIC);
        grid.close();
        int lines = rng.nextInt(2, 7);
        for (int i = 0; i < lines; i++) {
            org.bytedeco.opencv.opencv_core.Scalar col = new org.bytedeco.opencv.opencv_core.Scalar(
                    clamp(bg[0] + rng.nextInt(-60, 61)), clamp(bg[1] + rng.nextInt(-60, 61)), clamp(bg[2] + rng.nextInt(-60, 61)), 0);
            line(img, new Point(rng.nextInt(w), rng.nextInt(h)), new Point(rng.nextInt(w), rng.nextInt(h)), col,
                    rng.nextInt(1, 3), LINE_AA, 0);
        }
        UByteIndexer ii = img.createIndexer();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) ii.put(y, x, c, clamp(ii.get(y, x, c) + rng.nextInt(-12, 13)));
            }
        }
        ii.close();
        return img;
    }

    private static org.bytedeco.opencv.opencv_core.Scalar contrasting(int[] bg, SplittableRandom rng) {
        int[] c = new int[3];
        do {
            for (int i = 0; i < 3; i++) c[i] = rng.nextInt(0, 256);
        } while (Math.abs(c[0] - bg[0]) + Math.abs(c[1] - bg[1]) + Math.abs(c[2] - bg[2]) < 180);
        return new org.bytedeco.opencv.opencv_core.Scalar(c[0], c[1], c[2], 0);
    }

    private static void drawShape(Mat img, Obj o, org.bytedeco.opencv.opencv_core.Scalar col) {
        int x0 = o.xmin(), y0 = o.ymin(), x1 = o.xmax(), y1 = o.ymax();
        int cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
        switch (CLASS_NAMES.get(o.label())) {
            case "circle" -> ellipse(img, new Point(cx, cy), new Size((x1 - x0) / 2, (y1 - y0) / 2), 0, 0, 360, col, -1, LINE_AA, 0);
            case "square" -> rectangle(img, new Point(x0, y0), new Point(x1, y1), col, -1, LINE_8, 0);
            case "triangle" -> polygon(img, new int[]{x0, y1, x1, y1, cx, y0}, col);
            case "cross" -> {
                int tw = Math.max(2, (x1 - x0 + 1) / 3), th = Math.max(2, (y1 - y0 + 1) / 3);
                rectangle(img, new Point(cx - tw / 2, y0), new Point(cx - tw / 2 + tw - 1, y1), col, -1, LINE_8, 0);
                rectangle(img, new Point(x0, cy - th / 2), new Point(x1, cy - th / 2 + th - 1), col, -1, LINE_8, 0);
            }
            default -> throw new IllegalStateException();
        }
    }

    private static void polygon(Mat img, int[] xy, org.bytedeco.opencv.opencv_core.Scalar col) {
        Mat pts = new Mat(xy.length / 2, 1, org.bytedeco.opencv.global.opencv_core.CV_32SC2);
        org.bytedeco.javacpp.indexer.IntIndexer idx = pts.createIndexer();
        for (int i = 0; i < xy.length / 2; i++) {
            idx.put(i, 0, 0, xy[2 * i]);
            idx.put(i, 0, 1, xy[2 * i + 1]);
        }
        idx.close();
        fillPoly(img, new MatVector(pts), col, LINE_AA, 0, new Point(0, 0));
        pts.close();
    }

    private static double overlap(Obj a, Obj b) {
        int iw = Math.min(a.xmax(), b.xmax()) - Math.max(a.xmin(), b.xmin()) + 1;
        int ih = Math.min(a.ymax(), b.ymax()) - Math.max(a.ymin(), b.ymin()) + 1;
        if (iw <= 0 || ih <= 0) return 0;
        double inter = (double) iw * ih;
        double areaA = (double) (a.xmax() - a.xmin() + 1) * (a.ymax() - a.ymin() + 1);
        double areaB = (double) (b.xmax() - b.xmin() + 1) * (b.ymax() - b.ymin() + 1);
        return inter / Math.min(areaA, areaB);
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }

    private static String annotation(String id, int w, int h, List<Obj> objs) {
        StringBuilder sb = new StringBuilder();
        sb.append("<annotation>\n  <folder>VOC2007</folder>\n  <filename>").append(id).append(".jpg</filename>\n");
        sb.append("  <size><width>").append(w).append("</width><height>").append(h).append("</height><depth>3</depth></size>\n");
        for (Obj o : objs) {
            sb.append("  <object>\n    <name>").append(CLASS_NAMES.get(o.label())).append("</name>\n");
            sb.append("    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n");
            sb.append("    <difficult>").append(o.difficult() ? 1 : 0).append("</difficult>\n");
            // VOC coordinates are 1-based.
            sb.append("    <bndbox><xmin>").append(o.xmin() + 1).append("</xmin><ymin>").append(o.ymin() + 1)
                    .append("</ymin><xmax>").append(o.xmax() + 1).append("</xmax><ymax>").append(o.ymax() + 1)
                    .append("</ymax></bndbox>\n  </object>\n");
        }
        return sb.append("</annotation>\n").toString();
    }
}
