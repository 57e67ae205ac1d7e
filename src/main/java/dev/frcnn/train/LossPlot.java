package dev.frcnn.train;

import dev.frcnn.chart.ChartFiles;
import dev.frcnn.chart.ChartStyle;
import org.knowm.xchart.XYChart;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The training loss curve ({@code loss_curve.png} and {@code loss_curve.svg}): each loss's moving average over the
 * steps, one line per loss, steps on the x axis.
 */
final class LossPlot {
    /** Width of the chart in pixels. */
    static final int WIDTH = 960;
    /** Height of the chart in pixels. */
    static final int HEIGHT = 540;
    /**
     * Most points drawn per series: a longer run is averaged over equal bins of consecutive steps, so that a run of
     * 70,000 steps still draws in a fraction of a second and its SVG stays small.
     */
    static final int MAX_POINTS = 1000;

    private LossPlot() {}

    /**
     * Draws the curves. Step {@code i} (0-based) of the series is plotted at x = {@code i + 1}. The moving average at a
     * step is the mean of the finite values among the last {@code window} steps (a diverged step's NaN or infinity
     * is left out, not spread over the next {@code window} steps); where there is none, the line has a gap. No
     * steps give empty axes.
     *
     * @param png the PNG to write; its SVG twin is {@link ChartFiles#svgTwin}
     * @param names series names (legend), one per series
     * @param series per series, the values per step (same length)
     * @param window moving-average window in steps (at least 1)
     * @throws IOException naming the file that could not be drawn or written ({@link ChartFiles#write})
     * @throws IllegalArgumentException if names and series differ in number, the series in length, or window < 1
     */
    static void write(Path png, List<String> names, List<double[]> series, int window) throws IOException {
        if (names.size() != series.size()) {
            throw new IllegalArgumentException(names.size() + " names for " + series.size() + " series");
        }
        if (window < 1) throw new IllegalArgumentException("moving-average window " + window + " < 1");
        int n = series.isEmpty() ? 0 : series.get(0).length;
        for (double[] s : series) {
            if (s.length != n) throw new IllegalArgumentException("series of " + s.length + " and " + n + " steps");
        }
        XYChart chart = ChartStyle.lineChart(WIDTH, HEIGHT,
                "training loss (moving average of " + window + (window == 1 ? " step)" : " steps)"),
                "step (one image each)", "loss");
        // Ticks at round step numbers (whole steps once the run has a few; a run of 2 steps gets a 1.5 tick)
        chart.getStyler().setXAxisDecimalPattern("#,##0.#");
        if (n > 1) chart.getStyler().setXAxisMin(1.0).setXAxisMax((double) n);
        if (n > 0) {
            double[] x = binMeans(steps(n), MAX_POINTS);
            for (int s = 0; s < series.size(); s++) {
                double[] y = binMeans(movingAverage(series.get(s), window), MAX_POINTS);
                ChartStyle.addLine(chart, names.get(s), x, y, false);
            }
        }
        ChartFiles.write(chart, png);
    }

    private static double[] steps(int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = i + 1;
        return x;
    }

    /**
     * @return per step, the mean of the finite values among the last {@code window} steps, or NaN where there is none
     */
    static double[] movingAverage(double[] v, int window) {
        double[] out = new double[v.length];
        double sum = 0;
        int count = 0;
        for (int i = 0; i < v.length; i++) {
            if (Double.isFinite(v[i])) {
                sum += v[i];
                count++;
            }
            if (i >= window && Double.isFinite(v[i - window])) {
                sum -= v[i - window];
                count--;
            }
            if (count == 0) sum = 0; // no rounding residue carried past a gap
            out[i] = count > 0 ? sum / count : Double.NaN;
        }
        return out;
    }

    /**
     * @return {@code v} itself if it has at most {@code max} values; otherwise {@code max} values, the i-th the mean of
     *     the finite values of the i-th of {@code max} equal bins of consecutive values (NaN if it has none)
     */
    static double[] binMeans(double[] v, int max) {
        if (v.length <= max) return v;
        double[] out = new double[max];
        for (int b = 0; b < max; b++) {
            int from = (int) ((long) b * v.length / max), to = (int) ((long) (b + 1) * v.length / max);
            double sum = 0;
            int count = 0;
            for (int i = from; i < to; i++) {
                if (Double.isFinite(v[i])) {
                    sum += v[i];
                    count++;
                }
            }
            out[b] = count > 0 ? sum / count : Double.NaN;
        }
        return out;
    }
}
