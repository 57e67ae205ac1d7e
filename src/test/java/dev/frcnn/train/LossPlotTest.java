package dev.frcnn.train;

import dev.frcnn.chart.ChartStyle;
import dev.frcnn.testing.ChartImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** {@code loss_curve.png}/{@code .svg}: one line per loss, moving averages that skip non-finite steps. */
class LossPlotTest {
    @TempDir
    Path dir;

    private static double[] decaying(int n, double start) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = start * Math.exp(-i / 40.0) + 0.05 * Math.sin(i);
        return v;
    }

    @Test
    void drawsOneLinePerLossInThePlotAndItsLegend() throws Exception {
        List<String> names = FasterRCNNTrainer.Losses.NAMES;
        List<double[]> series = List.of(decaying(200, 0.5), decaying(200, 0.7), decaying(200, 0.3),
                decaying(200, 0.9), decaying(200, 2.4));
        Path png = dir.resolve("loss_curve.png");
        LossPlot.write(png, names, series, 20);
        BufferedImage img = ChartImages.png(png);
        assertThat(img.getWidth()).isEqualTo(LossPlot.WIDTH);
        assertThat(img.getHeight()).isEqualTo(LossPlot.HEIGHT);
        Document svg = ChartImages.svg(dir.resolve("loss_curve.svg"));
        for (int s = 0; s < names.size(); s++) {
            // the plot is the upper part; the legend is below it
            assertThat(ChartImages.pixelsNear(img, ChartStyle.SERIES_COLORS[s], 0, LossPlot.HEIGHT * 3 / 4))
                    .as(names.get(s) + " in the plot").isGreaterThan(100);
            assertThat(ChartImages.shapesIn(svg, ChartStyle.SERIES_COLORS[s])).as(names.get(s) + " in the SVG")
                    .isGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void noStepsOneStepAndNonFiniteValuesStillDraw() throws Exception {
        LossPlot.write(dir.resolve("none.png"), List.of("a", "b"), List.of(new double[0], new double[0]), 1);
        assertThat(ChartImages.png(dir.resolve("none.png")).getWidth()).isEqualTo(LossPlot.WIDTH);
        ChartImages.svg(dir.resolve("none.svg"));

        LossPlot.write(dir.resolve("one.png"), List.of("a"), List.<double[]>of(new double[] {0.7}), 1);
        assertThat(ChartImages.shapesIn(ChartImages.svg(dir.resolve("one.svg")), ChartStyle.SERIES_COLORS[0]))
                .as("legend sample and the single step's dot").isGreaterThanOrEqualTo(2);

        // a diverged last step (as losses.csv ends after a divergence) and a series without any finite value
        double[] diverged = {1.0, 0.9, 0.8, Double.NaN};
        double[] allNaN = {Double.NaN, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        LossPlot.write(dir.resolve("nan.png"), List.of("a", "b"), List.of(diverged, allNaN), 2);
        assertThat(ChartImages.png(dir.resolve("nan.png")).getHeight()).isEqualTo(LossPlot.HEIGHT);
        assertThat(ChartImages.shapesIn(ChartImages.svg(dir.resolve("nan.svg")), ChartStyle.SERIES_COLORS[0]))
                .isGreaterThanOrEqualTo(2);
    }

    @Test
    void theMovingAverageLeavesNonFiniteStepsOut() {
        assertThat(LossPlot.movingAverage(new double[] {1, 3, 5, 7}, 2)).containsExactly(1, 2, 4, 6);
        assertThat(LossPlot.movingAverage(new double[] {1, Double.NaN, 3, Double.POSITIVE_INFINITY, Double.NaN, 8}, 2))
                .containsExactly(1, 1, 3, 3, Double.NaN, 8);
        assertThat(LossPlot.movingAverage(new double[] {2, 4, 6}, 50)).containsExactly(2, 3, 4);
    }

    @Test
    void longRunsAreAveragedOverEqualBins() {
        double[] v = new double[2500];
        for (int i = 0; i < v.length; i++) v[i] = i;
        double[] b = LossPlot.binMeans(v, 1000);
        assertThat(b).hasSize(1000);
        // bin i holds [floor(2.5 i), floor(2.5 (i + 1))): bins of 2 and 3 values
        assertThat(b[0]).isCloseTo(0.5, within(1e-12));        // 0, 1
        assertThat(b[1]).isCloseTo(3.0, within(1e-12));        // 2, 3, 4
        assertThat(b[999]).isCloseTo(2498.0, within(1e-12));   // 2497, 2498, 2499
        double[] shortRun = {1, 2, 3};
        assertThat(LossPlot.binMeans(shortRun, 1000)).isSameAs(shortRun);
        assertThat(LossPlot.binMeans(new double[] {Double.NaN, Double.NaN, 1, 3}, 2)).containsExactly(Double.NaN, 2.0);
    }

    @Test
    void aFailedWriteNamesTheFile() throws IOException {
        Path file = Files.writeString(dir.resolve("not-a-dir"), "x").resolve("loss_curve.png");
        assertThatThrownBy(() -> LossPlot.write(file, List.of("a"), List.<double[]>of(new double[] {1, 2}), 1))
                .isInstanceOf(IOException.class).hasMessageStartingWith(file + ": cannot write: ");
    }

    @Test
    void badArgumentsAreRefused() {
        assertThatThrownBy(() -> LossPlot.write(dir.resolve("x.png"), List.of("a"), List.of(), 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LossPlot.write(dir.resolve("x.png"), List.of("a", "b"),
                List.of(new double[2], new double[3]), 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LossPlot.write(dir.resolve("x.png"), List.of("a"), List.<double[]>of(new double[2]), 0))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
