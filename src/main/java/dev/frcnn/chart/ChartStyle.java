package dev.frcnn.chart;

import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.util.Locale;

/**
 * The one look of the project's charts (XChart line charts): white background, light grey grid, axis titles, the
 * legend below the plot, sans-serif fonts of 12 to 16 points, numbers formatted in {@link Locale#ROOT} (a decimal
 * point whatever the machine's locale), and a fixed colour per series index ({@link #SERIES_COLORS}).
 */
public final class ChartStyle {
    /**
     * The colours of the series, by index (cycled beyond ten): the "Tableau 10" palette, which stays distinct in print
     * and for the common colour-vision deficiencies.
     */
    public static final Color[] SERIES_COLORS = {
            new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44), new Color(214, 39, 40),
            new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194), new Color(127, 127, 127),
            new Color(188, 189, 34), new Color(23, 190, 207)};

    private static final String FONT = Font.SANS_SERIF;

    private ChartStyle() {}

    /**
     * An empty line chart in the house style.
     *
     * @param width width in pixels (also the SVG's width in px)
     * @param height height in pixels
     * @param title the chart's title
     * @param xTitle the x axis's title, with its unit where it has one
     * @param yTitle the y axis's title, with its unit where it has one
     * @return the chart, to which {@link #addLine} adds series
     */
    public static XYChart lineChart(int width, int height, String title, String xTitle, String yTitle) {
        XYChart chart = new XYChartBuilder().width(width).height(height).title(title).xAxisTitle(xTitle)
                .yAxisTitle(yTitle).build();
        XYStyler s = chart.getStyler();
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotBorderColor(Color.GRAY);
        s.setChartFontColor(Color.BLACK);
        s.setChartTitleBoxVisible(false);
        s.setChartTitleFont(new Font(FONT, Font.BOLD, 16));
        s.setAxisTitleFont(new Font(FONT, Font.PLAIN, 14));
        s.setAxisTickLabelsFont(new Font(FONT, Font.PLAIN, 12));
        s.setAxisTickLabelsColor(Color.BLACK);
        s.setLegendFont(new Font(FONT, Font.PLAIN, 13));
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setLegendLayout(Styler.LegendLayout.Horizontal);
        s.setLegendBorderColor(Color.WHITE);
        s.setPlotGridLinesVisible(true);
        s.setPlotGridLinesColor(new Color(220, 220, 220));
        s.setPlotGridLinesStroke(new BasicStroke(1f));
        s.setSeriesColors(SERIES_COLORS);
        s.setLocale(Locale.ROOT);
        s.setToolTipsEnabled(false);
        s.setAntiAlias(true);
        return chart;
    }

    /**
     * Adds one series drawn as a 2-pixel line; non-finite values (NaN, infinities) are left out as gaps. With
     * {@code markers}, or when the series has a single point (a line needs two), each point also gets a dot.
     *
     * @param chart a chart of {@link #lineChart}
     * @param name the legend's label (unique in the chart)
     * @param x the x values (finite)
     * @param y the y values, as many as {@code x}
     * @param markers whether to mark each point
     * @return the series
     * @throws IllegalArgumentException if {@code x} is empty or the lengths differ
     */
    public static XYSeries addLine(XYChart chart, String name, double[] x, double[] y, boolean markers) {
        if (x.length == 0 || x.length != y.length) {
            throw new IllegalArgumentException("series " + name + ": " + x.length + " x values and " + y.length
                    + " y values; need as many of each, at least one");
        }
        double[] finite = new double[y.length];
        for (int i = 0; i < y.length; i++) finite[i] = Double.isFinite(y[i]) ? y[i] : Double.NaN;
        XYSeries s = chart.addSeries(name, x.clone(), finite);
        s.setLineWidth(2f);
        if (markers || x.length == 1) {
            s.setMarker(SeriesMarkers.CIRCLE);
        } else {
            s.setMarker(SeriesMarkers.NONE);
        }
        chart.getStyler().setMarkerSize(6);
        return s;
    }
}
