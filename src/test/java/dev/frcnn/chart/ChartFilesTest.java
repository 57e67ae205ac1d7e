package dev.frcnn.chart;

import dev.frcnn.io.Checkpoints;
import dev.frcnn.testing.ChartImages;
import dev.frcnn.testing.ChildJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.XYChart;
import org.w3c.dom.Document;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A chart becomes a PNG and its SVG twin, written by rename; a failure names the file; no display is needed. */
class ChartFilesTest {
    @TempDir
    Path dir;

    private static XYChart chart() {
        XYChart c = ChartStyle.lineChart(400, 300, "a title", "x (unit)", "y");
        ChartStyle.addLine(c, "rising", new double[] {1, 2, 3, 4, 5}, new double[] {0.1, 0.4, Double.NaN, 0.8, 0.9},
                false);
        ChartStyle.addLine(c, "flat", new double[] {1, 4}, new double[] {0.5, Double.POSITIVE_INFINITY}, true);
        return c;
    }

    @Test
    void writesThePngAndItsSvgTwinWithTheSeries() throws Exception {
        Path png = dir.resolve("c.png");
        assertThat(ChartFiles.write(chart(), png)).containsExactly(png, dir.resolve("c.svg"));
        BufferedImage img = ChartImages.png(png);
        assertThat(img.getWidth()).isEqualTo(400);
        assertThat(img.getHeight()).isEqualTo(300);
        assertThat(img.getColorModel().hasAlpha()).isFalse();
        Document svg = ChartImages.svg(dir.resolve("c.svg"));
        assertThat(svg.getDocumentElement().getAttribute("width")).isEqualTo("400px");
        assertThat(svg.getDocumentElement().getAttribute("height")).isEqualTo("300px");
        // the legend's sample and the line (two pieces around the NaN): at least 3 paths in the first colour
        assertThat(ChartImages.shapesIn(svg, ChartStyle.SERIES_COLORS[0])).isGreaterThanOrEqualTo(3);
        // the second series: its legend sample and the one finite point's dot (the infinity is left out)
        assertThat(ChartImages.shapesIn(svg, ChartStyle.SERIES_COLORS[1])).isGreaterThanOrEqualTo(2);
        assertThat(ChartImages.shapesIn(svg, ChartStyle.SERIES_COLORS[2])).isZero();
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).as("no temporary file left").containsExactlyInAnyOrder("c.png", "c.svg");
        }
    }

    @Test
    void replacesAnOlderChart() throws Exception {
        Path png = dir.resolve("c.png");
        Files.writeString(png, "old");
        Files.writeString(dir.resolve("c.svg"), "old");
        ChartFiles.write(chart(), png);
        assertThat(ChartImages.png(png).getWidth()).isEqualTo(400);
        ChartImages.svg(dir.resolve("c.svg"));
    }

    @Test
    void aFailedWriteNamesTheFileAndLeavesNoTemporaryFile() throws Exception {
        Path notADir = Files.writeString(dir.resolve("plain"), "a file");
        Path png = notADir.resolve("c.png");
        assertThatThrownBy(() -> ChartFiles.write(chart(), png)).isInstanceOf(IOException.class)
                .hasMessageStartingWith(png + ": cannot write: ");
        // a directory where the SVG goes: the PNG is written, the SVG's failure names the SVG, the directory stays
        Path svgDir = Files.createDirectories(dir.resolve("d.svg"));
        Files.writeString(svgDir.resolve("inside"), "x");
        assertThatThrownBy(() -> ChartFiles.write(chart(), dir.resolve("d.png"))).isInstanceOf(IOException.class)
                .hasMessageStartingWith(svgDir + ": cannot write: ");
        assertThat(svgDir.resolve("inside")).exists();
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("plain", "d.png", "d.svg");
        }
    }

    @Test
    void theSvgTwinReplacesTheExtension() {
        assertThat(ChartFiles.svgTwin(Path.of("runs/x/loss_curve.png"))).isEqualTo(Path.of("runs/x/loss_curve.svg"));
        assertThatThrownBy(() -> ChartFiles.svgTwin(Path.of("x.jpg"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("x.jpg");
    }

    /** Training's start removes the temporary files of killed saves by {@link Checkpoints#isTemporaryOf}'s rule. */
    @Test
    void temporaryFilesFollowTheCheckpointsNaming() throws IOException {
        for (int i = 0; i < 20; i++) {
            Path tmp = ChartFiles.createTemporary(dir.resolve("metrics.png"));
            assertThat(Checkpoints.isTemporaryOf(tmp.getFileName().toString(), "metrics.png")).as(tmp.toString()).isTrue();
            assertThat(tmp.getParent()).isEqualTo(dir);
        }
    }

    @Test
    void aChartNeedsNoDisplay() throws Exception {
        Path png = dir.resolve("child.png");
        ProcessBuilder pb = new ProcessBuilder(ChildJvm.command(DrawOne.class.getName(), List.of(png.toString())))
                .redirectErrorStream(true);
        pb.environment().put("DISPLAY", ":97"); // an X display that does not exist
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(ChartImages.png(png).getWidth()).isEqualTo(400);
    }

    /** The child JVM of {@link #aChartNeedsNoDisplay}: writes {@link #chart()} to the PNG given. */
    static final class DrawOne {
        public static void main(String[] args) throws IOException {
            ChartFiles.write(chart(), Path.of(args[0]));
        }
    }
}
