package dev.frcnn.train;

import dev.frcnn.chart.ChartFiles;
import dev.frcnn.chart.ChartStyle;
import org.knowm.xchart.XYChart;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The per-epoch evaluation chart ({@code metrics.png} and {@code metrics.svg}): one metric (the VOC mAP, or COCO's AP@[.5:.95]:
 * {@code eval_metric}) after each epoch, epochs on the x axis. Redrawn after each evaluation from {@code metrics.csv}.
 */
final class MetricsPlot {
    /** Width of the chart in pixels. */
    static final int WIDTH = 800;
    /** Height of the chart in pixels. */
    static final int HEIGHT = 480;

    private MetricsPlot() {}

    /**
     * One metric per epoch.
     *
     * @param epochs 1-based epoch numbers, ascending
     * @param values the metric after each epoch, as many as {@code epochs}
     */
    record History(int[] epochs, double[] values) {}

    /**
     * Draws the metric per epoch as a line with a dot per epoch. The y axis spans exactly 0 to 1 when every finite
     * value lies there (an AP or mAP), else it fits the values. A non-finite value (NaN: no class had an AP) is a gap.
     * No epochs give empty axes.
     *
     * @param png the PNG to write; its SVG twin is {@link ChartFiles#svgTwin}
     * @param metric the metric's name, e.g. {@code mAP} (the y axis and the legend)
     * @param epochs 1-based epoch numbers, ascending
     * @param values the metric per epoch
     * @throws IOException naming the file that could not be drawn or written ({@link ChartFiles#write})
     * @throws IllegalArgumentException if {@code epochs} and {@code values} differ in length
     */
    static void write(Path png, String metric, int[] epochs, double[] values) throws IOException {
        if (epochs.length != values.length) {
            throw new IllegalArgumentException(epochs.length + " epochs and " + values.length + " values");
        }
        XYChart chart = ChartStyle.lineChart(WIDTH, HEIGHT, metric + " on the evaluation split after each epoch",
                "epoch", metric);
        // one tick per epoch (XChart thins them out when they would crowd), labelled as whole numbers
        chart.getStyler().setxAxisTickLabelsFormattingFunction(v -> String.valueOf(Math.round(v)));
        boolean unit = true;
        for (double v : values) if (Double.isFinite(v) && (v < 0 || v > 1)) unit = false;
        if (unit) chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
        if (epochs.length > 0) {
            double[] x = new double[epochs.length];
            for (int i = 0; i < x.length; i++) x[i] = epochs[i];
            ChartStyle.addLine(chart, metric, x, values, true);
        }
        ChartFiles.write(chart, png);
    }

    /** {@link #write(Path, String, int[], double[])} of a {@link History}. */
    static void write(Path png, String metric, History h) throws IOException {
        write(png, metric, h.epochs(), h.values());
    }

    /**
     * Reads one column of a metrics CSV as {@link TrainLoop} writes it ({@code epoch,map,lr}, or {@code epoch,coco_ap,lr},
     * and one row per evaluation). Rows that do not parse are skipped; when an epoch appears twice (a resumed run that evaluated it
     * again), the later row wins.
     *
     * @param csv the CSV, with a header row naming {@code epoch} and {@code column}
     * @param column the value's column, e.g. {@code map}
     * @return the epochs in ascending order and their values
     * @throws IOException naming the file if it cannot be read or its header lacks {@code epoch} or {@code column}
     */
    static History read(Path csv, String column) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        List<String> header = lines.isEmpty() ? List.of() : List.of(lines.get(0).split(","));
        int e = header.indexOf("epoch"), c = header.indexOf(column);
        if (e < 0 || c < 0) throw new IOException(csv + ": no columns epoch and " + column + " in its header");
        Map<Integer, Double> byEpoch = new TreeMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            if (f.length <= Math.max(e, c)) continue;
            try {
                byEpoch.put(Integer.parseInt(f[e].strip()), Double.parseDouble(f[c].strip()));
            } catch (NumberFormatException skipped) {
                // a line that does not parse (torn by a killed write)
            }
        }
        int[] epochs = new int[byEpoch.size()];
        double[] values = new double[byEpoch.size()];
        int i = 0;
        for (Map.Entry<Integer, Double> r : byEpoch.entrySet()) {
            epochs[i] = r.getKey();
            values[i++] = r.getValue();
        }
        return new History(epochs, values);
    }
}
