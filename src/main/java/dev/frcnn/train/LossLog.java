package dev.frcnn.train;

import dev.frcnn.io.WriteFailures;

import java.io.BufferedWriter;
import java.io.Flushable;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The loss log: {@code losses.csv} (one row per step: {@code step,epoch,iteration}, the five losses, the step's lr
 * ({@link LrSchedule#lrAt(long)}), and for a step that diverged, its row with the non-finite values) and
 * {@code loss_curve.png}/{@code .svg} (moving averages, redrawn at the end of each epoch that ran steps; a chart that
 * cannot be written is a warning, {@link RunCharts}). Rows are buffered and
 * flushed at the end of an epoch, after a diverged step, and before each save of {@code last.ckpt}
 * ({@link Checkpointer}). A resumed run keeps the rows up to its checkpoint's global step and drops later ones
 * (steps that a killed run did after its last checkpoint, which the resume repeats).
 */
final class LossLog extends HookBase implements Flushable {
    private final List<String> lossNames;
    private final Path dir;
    private final LrSchedule schedule;
    private final PrintStream log;
    private final BufferedWriter csv;
    private final List<double[]> rows = new ArrayList<>();
    private boolean stepped;

    /**
     * Writes {@code losses.csv}'s header and the rows kept.
     *
     * @param dir the run directory
     * @param lossNames the columns after {@code step,epoch,iteration}, before {@code lr}: the model family's losses,
     *     the total last ({@link StepTrainer#lossNames()})
     * @param keepSteps rows of steps up to this global step are kept from an existing {@code losses.csv} (a resume);
     *     0 starts a new file
     * @param schedule the lr of each step
     * @param log where a chart that cannot be written is reported
     * @throws IOException if the file cannot be read or written
     */
    LossLog(Path dir, List<String> lossNames, long keepSteps, LrSchedule schedule, PrintStream log) throws IOException {
        this.lossNames = List.copyOf(lossNames);
        this.dir = dir;
        this.schedule = schedule;
        this.log = log;
        Path f = dir.resolve("losses.csv");
        List<String> kept = new ArrayList<>();
        kept.add("step,epoch,iteration," + String.join(",", lossNames) + ",lr");
        if (keepSteps > 0 && Files.isRegularFile(f)) {
            for (String line : Files.readAllLines(f)) {
                String[] c = line.split(",");
                if (c.length != lossNames.size() + 4 || !c[0].matches("\\d+")) continue;
                if (Long.parseLong(c[0]) > keepSteps) continue;
                kept.add(line);
                double[] v = new double[lossNames.size()];
                for (int k = 0; k < v.length; k++) v[k] = Double.parseDouble(c[3 + k]);
                rows.add(v);
            }
        }
        Files.write(f, kept);
        this.csv = Files.newBufferedWriter(f, StandardOpenOption.APPEND);
    }

    @Override
    void beforeEpoch(TrainState state) {
        stepped = false;
    }

    @Override
    void afterStep(TrainState state) throws IOException {
        write(state.globalStep(), state.epoch(), state.iteration() - 1, state.lastLosses(),
                schedule.lrAt(state.globalStep() - 1));
        stepped = true;
    }

    /** The diverged step's row (its 1-based step, its non-finite losses), flushed: the file ends with it. */
    @Override
    void afterDivergedStep(TrainState state) throws IOException {
        write(state.globalStep() + 1, state.epoch(), state.iteration(), state.lastLosses(),
                schedule.lrAt(state.globalStep()));
        flush();
    }

    /** After an epoch that ran steps: flushes the rows and redraws the curve. */
    @Override
    void afterEpoch(TrainState state) throws IOException {
        if (!stepped) return;
        flush();
        plot();
    }

    @Override
    void afterTrain(TrainState state) throws IOException {
        csv.close();
    }

    /**
     * Writes the buffered rows to {@code losses.csv}.
     *
     * @throws IOException naming the file if it cannot be written
     */
    @Override
    public void flush() throws IOException {
        try {
            csv.flush();
        } catch (IOException e) {
            throw WriteFailures.naming(dir.resolve("losses.csv"), e);
        }
    }

    private void write(long step, int epoch, int it, double[] v, double lr) throws IOException {
        StringBuilder sb = new StringBuilder().append(step).append(',').append(epoch + 1).append(',').append(it);
        for (double x : v) sb.append(',').append((float) x);
        try {
            csv.write(sb.append(',').append(lr).append('\n').toString());
        } catch (IOException e) {
            throw WriteFailures.naming(dir.resolve("losses.csv"), e);
        }
        rows.add(v.clone());
    }

    private void plot() {
        List<double[]> series = new ArrayList<>();
        for (int k = 0; k < lossNames.size(); k++) {
            double[] s = new double[rows.size()];
            for (int i = 0; i < s.length; i++) s[i] = rows.get(i)[k];
            series.add(s);
        }
        RunCharts.draw(log, () -> LossPlot.write(dir.resolve("loss_curve.png"), lossNames, series,
                Math.max(1, Math.min(50, rows.size() / 10 + 1))));
    }
}
