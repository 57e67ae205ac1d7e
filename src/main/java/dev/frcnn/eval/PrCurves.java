package dev.frcnn.eval;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Point;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;
import static org.bytedeco.opencv.global.opencv_imgproc.FONT_HERSHEY_SIMPLEX;
import static org.bytedeco.opencv.global.opencv_imgproc.LINE_8;
import static org.bytedeco.opencv.global.opencv_imgproc.LINE_AA;
import static org.bytedeco.opencv.global.opencv_imgproc.line;
import static org.bytedeco.opencv.global.opencv_imgproc.putText;

/**
 * Precision-recall curve plots drawn with OpenCV (see {@link VocEval#writePrCurves}). Kept apart from
 * the evaluation so that the OpenCV names ({@code Scalar}, {@code Point}) stay out of the numeric code.
 */
@SuppressWarnings("try") // PointerScope blocks free temporaries; the scope variable is unused by design
public final class PrCurves {
    private PrCurves() {}

    /** Width of every plot in pixels. */
    public static final int WIDTH = 480;
    /** Height of every plot in pixels. */
    public static final int HEIGHT = 400;

    private static final int LEFT = 60, RIGHT = 20, TOP = 50, BOTTOM = 50;

    static List<Path> write(Path dir, VocEval.Result result, List<String> names) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create directory " + dir, e);
        }
        List<Path> written = new ArrayList<>();
        VocEval.PrecRec pr = result.precRec();
        for (int l = 0; l < pr.classCount(); l++) {
            double[] prec = pr.prec()[l], rec = pr.rec()[l];
            if (prec == null || rec == null) continue;
            String name = l < names.size() && names.get(l) != null ? names.get(l) : "class" + l;
            Path file = dir.resolve(String.format(Locale.ROOT, "pr_%02d_%s.png", l, name.replaceAll("[^A-Za-z0-9_-]", "_")));
            draw(file, name, prec, rec, result.ap()[l], result.use07Metric());
            written.add(file);
        }
        return written;
    }

    private static void draw(Path file, String name, double[] prec, double[] rec, double ap, boolean use07) {
        try (PointerScope scope = new PointerScope()) {
            Mat img = new Mat(HEIGHT, WIDTH, CV_8UC3, color(255, 255, 255));
            int x0 = LEFT, y0 = HEIGHT - BOTTOM, x1 = WIDTH - RIGHT, y1 = TOP;
            org.bytedeco.opencv.opencv_core.Scalar black = color(0, 0, 0), grey = color(200, 200, 200);
            for (int i = 0; i <= 10; i++) {   // grid and ticks every 0.1
                int gx = px(i / 10.0, x0, x1), gy = py(i / 10.0, y0, y1);
                line(img, new Point(gx, y0), new Point(gx, y1), grey, 1, LINE_8, 0);
                line(img, new Point(x0, gy), new Point(x1, gy), grey, 1, LINE_8, 0);
            }
            line(img, new Point(x0, y0), new Point(x1, y0), black, 2, LINE_8, 0);
            line(img, new Point(x0, y0), new Point(x0, y1), black, 2, LINE_8, 0);
            for (double v : new double[] {0, 0.5, 1}) {
                String t = String.format(Locale.ROOT, "%.1f", v);
                putText(img, t, new Point(px(v, x0, x1) - 10, y0 + 20), FONT_HERSHEY_SIMPLEX, 0.45, black, 1, LINE_AA, false);
                putText(img, t, new Point(x0 - 35, py(v, y0, y1) + 5), FONT_HERSHEY_SIMPLEX, 0.45, black, 1, LINE_AA, false);
            }
            putText(img, "recall", new Point((x0 + x1) / 2 - 25, HEIGHT - 12), FONT_HERSHEY_SIMPLEX, 0.5, black, 1, LINE_AA, false);
            putText(img, "precision", new Point(5, TOP - 12), FONT_HERSHEY_SIMPLEX, 0.5, black, 1, LINE_AA, false);
            String title = String.format(Locale.ROOT, "%s  AP%s = %.4f", name, use07 ? "(07)" : "", ap);
            putText(img, title, new Point(x0 + 60, 25), FONT_HERSHEY_SIMPLEX, 0.6, black, 1, LINE_AA, false);
            // the curve: (recall, precision) after each detection, starting at (0, first precision)
            org.bytedeco.opencv.opencv_core.Scalar blue = color(200, 60, 20);   // BGR
            Point prev = null;
            for (int k = 0; k < prec.length; k++) {
                double p = Double.isNaN(prec[k]) ? 0 : prec[k];
                Point cur = new Point(px(rec[k], x0, x1), py(p, y0, y1));
                if (prev == null) prev = new Point(px(0, x0, x1), cur.y());
                line(img, prev, cur, blue, 2, LINE_AA, 0);
                prev = cur;
            }
            if (!imwrite(file.toString(), img)) {
                throw new UncheckedIOException(new IOException("OpenCV could not write " + file));
            }
        }
    }

    private static int px(double r, int x0, int x1) {
        return (int) Math.round(x0 + Math.max(0, Math.min(1, r)) * (x1 - x0));
    }

    private static int py(double p, int y0, int y1) {
        return (int) Math.round(y0 + Math.max(0, Math.min(1, p)) * (y1 - y0));
    }

    private static org.bytedeco.opencv.opencv_core.Scalar color(double b, double g, double r) {
        return new org.bytedeco.opencv.opencv_core.Scalar(b, g, r, 0);
    }
}
