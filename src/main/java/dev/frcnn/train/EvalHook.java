package dev.frcnn.train;

import dev.frcnn.config.Config;
import dev.frcnn.config.EvalMetric;
import dev.frcnn.data.DetectionDataset;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.eval.DetectionEvaluator;
import dev.frcnn.eval.VocEval;
import dev.frcnn.io.WriteFailures;
import dev.frcnn.model.DetectionModel;
import dev.frcnn.model.roi.Thresholds;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Evaluation and the choice of the best model, after each epoch (the reference's {@code train.py}): the
 * {@code eval_metric} of the model on the test split ({@code test_num}; {@link Config#evalMetricMode()}: VOC07 mAP by
 * default, VOC area mAP, or COCO's AP@[.5:.95]), a row of {@code metrics.csv} ({@code epoch,map,lr} for the VOC
 * metrics, {@code epoch,coco_ap,lr} for COCO's, {@link EvalMetric#column()}; the lr before this epoch's decay), one
 * log line {@code epoch e/E: mAP m, lr l (train t s, eval t s)} ({@code AP@[.5:.95] m} for COCO),
 * {@code metrics.png}/{@code .svg} redrawn from {@code metrics.csv} ({@link RunCharts}), and, when the metric beats
 * the best so far, {@code best.ckpt} and the state's best metric. A stop requested during the evaluation is honoured between two images: {@code last.ckpt}
 * is saved at the end of the epoch's steps (a resume evaluates the epoch again) and {@link TrainingStoppedException}
 * thrown.
 */
final class EvalHook extends HookBase {
    private final DetectionModel model;
    private final DetectionDataset test;
    private final EvalMetric metric;
    private final Preprocessing preprocessing;
    private final Config cfg;
    private final LrSchedule schedule;
    private final Checkpointer checkpointer;
    private final StopRequest stop;
    private final PrintStream log;
    private final Path dir;
    private final Path metricsFile;
    private final BufferedWriter metrics;
    private VocEval.Result bestEvaluation;

    /**
     * Opens {@code metrics.csv}: a new file with its header for a fresh run, or the existing one (kept) for a resume.
     *
     * @param dir the run directory
     * @param resumed whether the run continues one that has trained steps ({@code metrics.csv} is kept if present)
     * @param test the evaluation split (any format)
     * @param cfg {@code test_num}, {@code eval_metric} (or {@code use_07_metric}), {@code epoch}
     * @param schedule the lr logged with each epoch
     * @param checkpointer saves {@code best.ckpt}, and {@code last.ckpt} on a stop
     * @param stop polled between the evaluation's images
     * @param log where the epoch's line goes
     * @throws IOException if {@code metrics.csv} cannot be written
     */
    EvalHook(Path dir, boolean resumed, DetectionModel model, DetectionDataset test, Preprocessing preprocessing, Config cfg,
             LrSchedule schedule, Checkpointer checkpointer, StopRequest stop, PrintStream log) throws IOException {
        this.model = model;
        this.test = test;
        this.metric = cfg.evalMetricMode();
        this.preprocessing = preprocessing;
        this.cfg = cfg;
        this.schedule = schedule;
        this.checkpointer = checkpointer;
        this.stop = stop;
        this.log = log;
        this.dir = dir;
        this.metricsFile = dir.resolve("metrics.csv");
        if (!resumed || !Files.isRegularFile(metricsFile)) {
            Files.writeString(metricsFile, "epoch," + metric.column() + ",lr\n");
        }
        this.metrics = Files.newBufferedWriter(metricsFile, StandardOpenOption.APPEND);
    }

    /**
     * The test-split VOC evaluation of the best epoch, or null if that epoch was evaluated by an earlier process or
     * the metric is COCO's.
     */
    VocEval.Result bestEvaluation() {
        return bestEvaluation;
    }

    @Override
    void afterEpoch(TrainState state) throws IOException {
        long evalStart = System.nanoTime();
        model.module().train(false);
        DetectionEvaluator.Run eval;
        try {
            eval = DetectionEvaluator.evaluate(model, test, preprocessing, Thresholds.EVALUATE, cfg.testNum(),
                    done -> {
                        if (stop.isRequested()) throw new EvaluationStopped();
                    });
        } catch (EvaluationStopped e) {
            // The epoch's training is done (iteration = its length): a resume evaluates it again.
            model.module().train(true);
            checkpointer.stopIfRequested(stop);
            throw new IllegalStateException("unreachable: a stop was requested");
        }
        VocEval.Result r = metric.isVoc() ? eval.voc().evaluate(metric == EvalMetric.VOC07) : null;
        double value = r != null ? r.map() : eval.coco().stats()[0];
        model.module().train(true);
        state.evaluated(value);
        writeMetrics(state.epoch(), value, schedule.lr());
        log.printf("epoch %d/%d: %s %.4f, lr %.2e (train %.1f s, eval %.1f s)%n", state.epoch() + 1, cfg.epoch(),
                metric.label(), value, schedule.lr(), (evalStart - state.epochStartNanos()) / 1e9,
                (System.nanoTime() - evalStart) / 1e9);
        RunCharts.draw(log, () -> MetricsPlot.write(dir.resolve("metrics.png"), metric.label(),
                MetricsPlot.read(metricsFile, metric.column())));
        if (value > state.bestMap()) {
            state.best(value);
            bestEvaluation = r;
            checkpointer.saveBest();
        }
    }

    @Override
    void afterTrain(TrainState state) throws IOException {
        metrics.close();
    }

    private void writeMetrics(int epoch, double map, double lr) throws IOException {
        try {
            metrics.write((epoch + 1) + "," + map + "," + lr + "\n");
            metrics.flush();
        } catch (IOException e) {
            throw WriteFailures.naming(metricsFile, e);
        }
    }

    /** Thrown out of an evaluation by its progress callback when a stop is requested. */
    private static final class EvaluationStopped extends RuntimeException {
        private static final long serialVersionUID = 1L;

        EvaluationStopped() {
            super("stop requested", null, false, false);
        }
    }
}
