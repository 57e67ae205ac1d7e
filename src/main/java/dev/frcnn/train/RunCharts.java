package dev.frcnn.train;

import java.io.IOException;
import java.io.PrintStream;

/**
 * Draws the charts of a run directory ({@code loss_curve}, {@code metrics}) during training: a chart that cannot be
 * drawn or written is one warning line on the log, since the CSVs hold the numbers, and training goes on.
 */
final class RunCharts {
    /** Draws and writes one chart. */
    @FunctionalInterface
    interface Chart {
        /** @throws IOException naming the file that could not be drawn or written */
        void write() throws IOException;
    }

    private RunCharts() {}

    /** Runs {@code chart}; an {@link IOException} becomes a {@code warning: ...; training goes on} line on {@code log}. */
    static void draw(PrintStream log, Chart chart) {
        try {
            chart.write();
        } catch (IOException e) {
            log.println("warning: " + e.getMessage() + "; training goes on");
        }
    }
}
