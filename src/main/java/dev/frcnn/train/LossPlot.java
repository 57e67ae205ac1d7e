package dev.frcnn.train;

import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Point;

import java.nio.file.Path;
import java.util.List;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;
import static org.bytedeco.opencv.global.opencv_imgproc.*;

/** Draws training loss curves (moving averages per step) into a PNG with OpenCV. */
final class LossPlot {
    private static final int W = 800, H = 480, LEFT = 70, RIGHT = 170, TOP = 40, BOTTOM = 50;
    private static final double[][] COLORS = {{200, 60, 30}, {30, 140, 30}, {30, 30, 200}, {160, 0, 160}, {0, 0, 0}};

    private LossPlot() {}

    /**
     * @param file the PNG to write
     * @param names series names (legend)
     * @param series per series, the values per step (same length)
     * @param window moving-average window
     * @return whether OpenCV wrote the file
     */
    static boolean write(Path file, List<String> names, List<double[]> series, int window) {
        int n = series.isEmpty() ? 0 : series.get(0).length;
        Mat img = new Mat(H, W, CV_8UC3, new org.bytedeco.opencv.opencv_core.Scalar(255, 255, 255, 0));
        try {
            double[][] smooth = new double[series.size()][];
            double max = 1e-9;
            for (int s = 0; s < series.size(); s++) {
                smooth[s] = movingAverage(series.get(s), window);
                for (double v : smooth[s]) if (Double.isFinite(v)) max = Math.max(max, v);
            }
            org.bytedeco.opencv.opencv_core.Scalar black = new org.bytedeco.opencv.opencv_core.Scalar(0, 0, 0, 0);
            rectangle(img, new Point(LEFT, TOP), new Point(W - RIGHT, H - BOTTOM), black, 1, LINE_8, 0);
            putText(img, "training loss (moving average of " + window + " steps)", new Point(LEFT, 25),
                    FONT_HERSHEY_SIMPLEX, 0.55, black, 1, LINE_AA, false);
            putText(img, "step", new Point((W - RIGHT + LEFT) / 2 - 15, H - 12), FONT_HERSHEY_SIMPLEX, 0.5, black, 1, LINE_AA, false);
            for (int t = 0; t <= 4; t++) {
                int y = py(max * t / 4, max);
                line(img, new Point(LEFT - 5, y), new Point(LEFT, y), black, 1, LINE_8, 0);
                putText(img, String.format("%.2f", max * t / 4), new Point(8, y + 5), FONT_HERSHEY_SIMPLEX, 0.45, black, 1, LINE_AA, false);
                int x = px(t / 4.0);
                putText(img, String.valueOf(Math.round((n - 1) * t / 4.0) + 1), new Point(x - 10, H - BOTTOM + 18),
                        FONT_HERSHEY_SIMPLEX, 0.45, black, 1, LINE_AA, false);
            }
            for (int s = 0; s < smooth.length; s++) {
                double[] c = COLORS[s % COLORS.length];
                org.bytedeco.opencv.opencv_core.Scalar col = new org.bytedeco.opencv.opencv_core.Scalar(c[0], c[1], c[2], 0);
                for (int i = 1; i < n; i++) {
                    line(img, new Point(px((i - 1) / (double) Math.max(1, n - 1)), py(smooth[s][i - 1], max)),
                            new Point(px(i / (double) Math.max(1, n - 1)), py(smooth[s][i], max)), col, 1, LINE_AA, 0);
                }
                putText(img, names.get(s), new Point(W - RIGHT + 10, TOP + 20 + 22 * s), FONT_HERSHEY_SIMPLEX, 0.5, col, 1, LINE_AA, false);
            }
            return imwrite(file.toString(), img);
        } finally {
            img.close();
        }
    }

    private static double[] movingAverage(double[] v, int window) {
        double[] out = new double[v.length];
        double sum = 0;
        for (int i = 0; i < v.length; i++) {
            sum += v[i];
            if (i >= window) sum -= v[i - window];
            out[i] = sum / Math.min(i + 1, window);
        }
        return out;
    }

    private static int px(double f) {
        return LEFT + (int) Math.round(f * (W - RIGHT - LEFT));
    }

    private static int py(double v, double max) {
        double f = Math.max(0, Math.min(1, v / max));
        return H - BOTTOM - (int) Math.round(f * (H - BOTTOM - TOP));
    }
}
