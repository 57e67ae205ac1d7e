package dev.frcnn.train;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;

/**
 * The progress bar of an epoch's steps on the log stream: {@code epoch e/E}, steps done of the epoch (from the resume
 * position), speed, and the mean total loss of the steps of this process in the epoch. Opened at the start of an
 * epoch that has steps to run, closed when they are done (before the evaluation logs its line) or when training ends
 * otherwise.
 */
final class ProgressBarHook extends HookBase {
    private final PrintStream log;
    private final int epochs;
    private ProgressBar bar;
    private double totalLoss;
    private int seen;

    /**
     * @param log the stream the bar is drawn on
     * @param epochs epochs of the run (the bar's title)
     */
    ProgressBarHook(PrintStream log, int epochs) {
        this.log = log;
        this.epochs = epochs;
    }

    @Override
    void beforeEpoch(TrainState state) {
        if (state.iteration() >= state.epochLength()) return;
        bar = new ProgressBarBuilder()
                .setTaskName(String.format("epoch %d/%d", state.epoch() + 1, epochs))
                .setInitialMax(state.epochLength()).startsFrom(state.iteration(), java.time.Duration.ZERO)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(1000).showSpeed()
                .setConsumer(new ConsoleProgressBarConsumer(log)).build();
        totalLoss = 0;
        seen = 0;
    }

    @Override
    void afterStep(TrainState state) {
        if (bar == null) return;
        double[] v = state.lastLosses();
        seen++;
        totalLoss += v[v.length - 1];
        bar.step();
        bar.setExtraMessage(String.format("loss %.3f", totalLoss / seen));
    }

    @Override
    void afterEpoch(TrainState state) {
        close();
    }

    @Override
    void afterTrain(TrainState state) {
        close();
    }

    private void close() {
        if (bar == null) return;
        bar.close();
        bar = null;
    }
}
