package dev.frcnn.train;

import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.config.Config;

import java.io.IOException;
import java.io.PrintStream;

/**
 * The learning rate of every step and of every optimizer group, in one place (a hook of {@link SimpleTrainer}). It
 * holds the base lr, the lr of the weights: {@code lr} at the start, times {@code lr_decay} from the decay on, times
 * the ratio of a resume that changed {@code lr}. Everything else is derived from it:
 * <ul>
 *   <li>group {@code g}'s lr is {@code multiplier[g] * base} ({@link FasterRCNNTrainer#lrMultipliers()}: 2 for
 *       biases, 1 for weights, as the reference's {@code get_optimizer}); the optimizer's groups hold exactly these
 *       values except during a warmed-up step, and checkpoints save them ({@link #groupLrs()});</li>
 *   <li>warm-up ({@link WarmupLinear}, detectron2's rule): during the 0-based global step {@code i} every group's lr is
 *       multiplied by {@code warmup.at(i)}, and restored after the step ({@link #beforeStep}, {@link #afterStep});
 *       {@code losses.csv} logs {@link #lrAt(long)};</li>
 *   <li>the step decay of the reference's {@code train.py}: after the evaluation of epoch {@code lr_decay_epoch}
 *       (0-based), if there is a best model, it is reloaded ({@code best.ckpt}) and the base lr multiplied by
 *       {@code lr_decay} ({@link #afterEpoch}); the hook runs after {@link EvalHook} and before the end-of-epoch
 *       checkpoint, which saves the decayed lr;</li>
 *   <li>a resume restores the saved base lr ({@link #restore}); the global step, and so the warm-up factor, continues
 *       where it was, so a resumed run uses the lrs of an uninterrupted one.</li>
 * </ul>
 * The multipliers are powers of two, so deriving a group's lr from the base gives the bits that scaling each group's
 * lr in turn gave (the reference's {@code scale_lr}).
 */
final class LrSchedule extends HookBase {
    /** Loads the weights of the best model so far ({@code best.ckpt}) into the model being trained. */
    @FunctionalInterface
    interface BestModel {
        /** @throws IOException if {@code best.ckpt} cannot be read */
        void reload() throws IOException;
    }

    private final TrainOptimizer optimizer;
    private final double[] multipliers;
    private final WarmupLinear warmup;
    private final double configuredLr;
    private final int decayEpoch;
    private final double decay;
    private final BestModel best;
    private final PrintStream log;
    private double base;
    private boolean warmedUp;

    /**
     * Starts at the configured {@code lr} and sets every group's lr from it.
     *
     * @param cfg {@code lr}, {@code lr_decay}, {@code lr_decay_epoch}, {@code warmup_iters}, {@code warmup_factor}
     * @param optimizer the optimizer whose group lrs the schedule sets
     * @param multipliers per group, its lr over the base lr ({@link FasterRCNNTrainer#lrMultipliers()})
     * @param best reloads the best model at the decay
     * @param log where the decay and a resume's lr change are reported
     * @throws IllegalArgumentException if there is not one multiplier per group
     */
    LrSchedule(Config cfg, TrainOptimizer optimizer, double[] multipliers, BestModel best, PrintStream log) {
        if (multipliers.length != optimizer.groupCount()) {
            throw new IllegalArgumentException("expected " + optimizer.groupCount() + " lr multipliers (one per "
                    + "optimizer group), got " + multipliers.length);
        }
        this.optimizer = optimizer;
        this.multipliers = multipliers.clone();
        this.warmup = new WarmupLinear(cfg.warmupIters(), cfg.warmupFactor());
        this.configuredLr = cfg.lr();
        this.decayEpoch = cfg.lrDecayEpoch();
        this.decay = cfg.lrDecay();
        this.best = best;
        this.log = log;
        this.base = cfg.lr();
        apply(1.0);
    }

    /** The base lr in force (the weights' lr outside warm-up): what checkpoints save as {@code lr}. */
    double baseLr() {
        return base;
    }

    /** The scheduled lr of the first group (a weight's), as the reference logs it ({@code metrics.csv}, the log). */
    double lr() {
        return multipliers[0] * base;
    }

    /** The lr of the first group during the 0-based global step {@code step}: {@link #lr()} times the warm-up. */
    double lrAt(long step) {
        return lr() * warmup.at(step);
    }

    /** Every group's scheduled lr (outside warm-up), in group order: what checkpoints save as {@code group_lrs}. */
    double[] groupLrs() {
        double[] out = new double[multipliers.length];
        for (int g = 0; g < out.length; g++) out[g] = multipliers[g] * base;
        return out;
    }

    /**
     * A resume: restores the base lr saved in {@code m}; if the run's {@code lr} differs from the checkpoint's
     * config's (e.g. lowered after a divergence), scales it by their ratio (decay included) and says so.
     */
    void restore(Checkpoint.Meta m) {
        base = m.lr();
        double savedBase = m.config().lr();
        double ratio = savedBase == configuredLr ? 1.0 : configuredLr / savedBase;
        if (ratio != 1.0) {
            log.printf("lr changed from %s to %s: the saved learning rates are scaled by %s%n", savedBase,
                    configuredLr, ratio);
            base *= ratio;
        }
        apply(1.0);
    }

    /** Warm-up: the step's groups run at their lr times {@code warmup.at(step)}. */
    @Override
    void beforeStep(TrainState state) {
        double f = warmup.at(state.globalStep());
        if (f == 1.0) return;
        apply(f);
        warmedUp = true;
    }

    /** After a warmed-up step, every group is back at its scheduled lr (what a checkpoint saves). */
    @Override
    void afterStep(TrainState state) {
        if (!warmedUp) return;
        apply(1.0);
        warmedUp = false;
    }

    @Override
    void afterDivergedStep(TrainState state) {
        afterStep(state);
    }

    /** At {@code lr_decay_epoch}, after its evaluation: reloads the best model and decays the lr. */
    @Override
    void afterEpoch(TrainState state) throws IOException {
        if (state.epoch() != decayEpoch || state.bestEpoch() < 0) return;
        best.reload();
        base = base * decay;
        apply(1.0);
        log.printf("reloaded the best model (epoch %d), lr x %s%n", state.bestEpoch() + 1, decay);
    }

    private void apply(double factor) {
        for (int g = 0; g < multipliers.length; g++) optimizer.setLr(g, multipliers[g] * base * factor);
    }
}
