package dev.frcnn.train;

import dev.frcnn.chart.ChartStyle;
import dev.frcnn.testing.ChartImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code metrics.png}/{@code .svg}: the metric per epoch, read from {@code metrics.csv}. */
class MetricsPlotTest {
    @TempDir
    Path dir;

    @Test
    void drawsTheMetricPerEpoch() throws Exception {
        Path png = dir.resolve("metrics.png");
        MetricsPlot.write(png, "mAP", new int[] {1, 2, 3, 4}, new double[] {0.12, 0.35, 0.41, 0.52});
        BufferedImage img = ChartImages.png(png);
        assertThat(img.getWidth()).isEqualTo(MetricsPlot.WIDTH);
        assertThat(img.getHeight()).isEqualTo(MetricsPlot.HEIGHT);
        assertThat(ChartImages.pixelsNear(img, ChartStyle.SERIES_COLORS[0], 0, MetricsPlot.HEIGHT * 3 / 4))
                .as("the line and its dots in the plot").isGreaterThan(200);
        // the legend's sample, the line, and a dot per epoch
        assertThat(ChartImages.shapesIn(ChartImages.svg(dir.resolve("metrics.svg")), ChartStyle.SERIES_COLORS[0]))
                .isGreaterThanOrEqualTo(2 + 4);
    }

    @Test
    void noEpochOneEpochAndNaNStillDraw() throws Exception {
        MetricsPlot.write(dir.resolve("none.png"), "mAP", new int[0], new double[0]);
        assertThat(ChartImages.png(dir.resolve("none.png")).getWidth()).isEqualTo(MetricsPlot.WIDTH);
        assertThat(ChartImages.shapesIn(ChartImages.svg(dir.resolve("none.svg")), ChartStyle.SERIES_COLORS[0])).isZero();

        MetricsPlot.write(dir.resolve("one.png"), "mAP", new int[] {1}, new double[] {0.25});
        assertThat(ChartImages.shapesIn(ChartImages.svg(dir.resolve("one.svg")), ChartStyle.SERIES_COLORS[0]))
                .as("legend sample and the epoch's dot").isGreaterThanOrEqualTo(2);

        // an epoch without any AP (NaN) is a gap; a metric beyond [0, 1] gets a fitted axis
        MetricsPlot.write(dir.resolve("nan.png"), "mAP", new int[] {1, 2, 3}, new double[] {0.1, Double.NaN, 0.3});
        ChartImages.svg(dir.resolve("nan.svg"));
        MetricsPlot.write(dir.resolve("wide.png"), "loss", new int[] {1, 2}, new double[] {3.5, 2.0});
        assertThat(ChartImages.png(dir.resolve("wide.png")).getHeight()).isEqualTo(MetricsPlot.HEIGHT);
    }

    @Test
    void readsTheCsvTheLoopWritesLaterRowsWinning() throws IOException {
        // as TrainLoop writes it; epoch 2 evaluated again after a resume; lines that do not parse
        Path csv = Files.writeString(dir.resolve("metrics.csv"),
                "epoch,map,lr\n1,0.125,0.001\n2,0.25,0.001\n2,0.3,0.001\n3,NaN,1.0E-4\n4,0.4x\n5");
        MetricsPlot.History h = MetricsPlot.read(csv, "map");
        assertThat(h.epochs()).containsExactly(1, 2, 3);
        assertThat(h.values()).containsExactly(0.125, 0.3, Double.NaN);
        Path headerOnly = Files.writeString(dir.resolve("h.csv"), "epoch,map,lr\n");
        assertThat(MetricsPlot.read(headerOnly, "map").epochs()).isEmpty();
        assertThatThrownBy(() -> MetricsPlot.read(csv, "coco_ap")).isInstanceOf(IOException.class)
                .hasMessageContaining(csv.toString()).hasMessageContaining("coco_ap");
    }

    @Test
    void aFailedWriteNamesTheFile() throws IOException {
        Path file = Files.writeString(dir.resolve("not-a-dir"), "x").resolve("metrics.png");
        assertThatThrownBy(() -> MetricsPlot.write(file, "mAP", new int[] {1}, new double[] {0.5}))
                .isInstanceOf(IOException.class).hasMessageStartingWith(file + ": cannot write: ");
        assertThatThrownBy(() -> MetricsPlot.write(dir.resolve("m.png"), "mAP", new int[] {1, 2}, new double[] {0.5}))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
