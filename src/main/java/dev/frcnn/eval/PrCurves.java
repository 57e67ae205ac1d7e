package dev.frcnn.eval;

import dev.frcnn.chart.ChartFiles;
import dev.frcnn.chart.ChartStyle;
import org.knowm.xchart.XYChart;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Precision-recall curve charts, one per class (see {@link VocEval#writePrCurves}): recall on the x axis, precision
 * on the y axis, both from 0 to 1 with a grid every 0.1, the class name and its AP in the title, the name in the
 * legend. Each chart is a PNG and its SVG twin ({@link ChartFiles}).
 */
public final class PrCurves {
    private PrCurves() {}

    /** Width of every chart in pixels. */
    public static final int WIDTH = 560;
    /** Height of every chart in pixels. */
    public static final int HEIGHT = 480;

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
            try {
                ChartFiles.write(chart(name, prec, rec, result.ap()[l], result.use07Metric()), file);
            } catch (IOException e) {
                throw new UncheckedIOException(e.getMessage(), e);
            }
            written.add(file);
        }
        return written;
    }

    /**
     * The chart of one class: the raw curve, (recall, precision) after each detection in descending score, starting
     * at (0, the first detection's precision); a NaN precision is drawn as 0, a point without a finite recall (no
     * ground truth) is left out.
     */
    static XYChart chart(String name, double[] prec, double[] rec, double ap, boolean use07) {
        String apLabel = String.format(Locale.ROOT, "AP%s = %.4f", use07 ? " (VOC07 11-point)" : "", ap);
        XYChart chart = ChartStyle.lineChart(WIDTH, HEIGHT, name + ": " + apLabel, "recall", "precision");
        chart.getStyler().setXAxisMin(0.0).setXAxisMax(1.0).setYAxisMin(0.0).setYAxisMax(1.0);
        chart.getStyler().setXAxisDecimalPattern("0.0").setYAxisDecimalPattern("0.0");
        double[] x = new double[Math.min(prec.length, rec.length) + 1], y = new double[x.length];
        int n = 1;
        for (int k = 0; k < x.length - 1; k++) {
            if (!Double.isFinite(rec[k])) continue;   // a class without ground truth: recall 0/0 or x/0
            x[n] = clamp(rec[k]);
            y[n++] = Double.isNaN(prec[k]) ? 0 : clamp(prec[k]);
        }
        if (n > 1) {
            y[0] = y[1];
            ChartStyle.addLine(chart, name, Arrays.copyOf(x, n), Arrays.copyOf(y, n), false);
        }
        return chart;
    }

    private static double clamp(double v) {
        return Math.max(0, Math.min(1, v));
    }
}
