package dev.frcnn.train;

import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.config.Config;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * {@link LrSchedule} on its own, over an optimizer that only holds group lrs: the lrs it gives every group during and
 * after each step of the warm-up, the decay at {@code lr_decay_epoch} (with the reload of the best model), and a
 * resume mid-warm-up (after the decay) that gives the lrs of the uninterrupted run, bit for bit.
 * {@code LrScheduleTest} checks the same schedule through whole training runs.
 */
class LrScheduleUnitTest {
    /** Two weights and a bias: multipliers 1, 2, 1. */
    private static final List<String> GROUPS = List.of("extractor.0.weight", "extractor.0.bias", "head.score.weight");
    private static final double[] LOSSES = {0.1, 0.2, 0.3, 0.4, 1.0};

    /** Holds each group's lr; nothing else. */
    private static final class LrOnlyOptimizer implements TrainOptimizer {
        final double[] lrs = new double[GROUPS.size()];

        @Override public void zeroGrad() {}
        @Override public void step() {}
        @Override public List<Group> groups() {
            List<Group> out = new ArrayList<>();
            for (int g = 0; g < lrs.length; g++) out.add(new Group(GROUPS.get(g), lrs[g], 0, 0, 0, false));
            return out;
        }
        @Override public int groupCount() { return lrs.length; }
        @Override public double lr(int group) { return lrs[group]; }
        @Override public void setLr(int group, double lr) { lrs[group] = lr; }
        @Override public byte[] saveState() { throw new UnsupportedOperationException(); }
        @Override public void loadState(byte[] archive, Path source) { throw new UnsupportedOperationException(); }
    }

    private static Config config(String... overrides) {
        List<String> o = new ArrayList<>(List.of("lr=0.01", "lr_decay=0.1", "lr_decay_epoch=1", "warmup_iters=0",
                "class_names=[\"circle\"]"));
        o.addAll(List.of(overrides));
        return TinyModels.config(o.toArray(String[]::new));
    }

    private static double[] multipliers() {
        return GROUPS.stream().mapToDouble(FasterRCNNTrainer::lrMultiplier).toArray();
    }

    private int reloads;
    private final ByteArrayOutputStream logged = new ByteArrayOutputStream();

    private LrSchedule schedule(Config cfg, LrOnlyOptimizer opt) {
        return new LrSchedule(cfg, opt, multipliers(), () -> reloads++, new PrintStream(logged, true));
    }

    /**
     * Runs the schedule's hooks over epochs of {@code length} steps from the state's position until {@code epochs}
     * epochs or global step {@code stopAt}; epoch 0's evaluation is the best. Adds each step's group lrs (read
     * during the step) to {@code during}.
     */
    private static void drive(LrSchedule s, LrOnlyOptimizer opt, TrainState st, int epochs, int length, long stopAt,
                              List<double[]> during) throws Exception {
        for (; st.epoch() < epochs; st.endEpoch()) {
            st.startEpoch(length);
            s.beforeEpoch(st);
            for (int it = st.iteration(); it < length; it++) {
                s.beforeStep(st);
                during.add(opt.lrs.clone());
                st.stepDone(it, LOSSES);
                s.afterStep(st);
                if (st.globalStep() == stopAt) return;
            }
            if (st.epoch() == 0) st.best(0.5);
            s.afterEpoch(st);
        }
    }

    @Test
    void theBiasRuleGivesTheMultipliers() {
        assertThat(multipliers()).containsExactly(1.0, 2.0, 1.0);
    }

    @Test
    void everyGroupStartsAtItsMultipleOfTheConfiguredLr() {
        LrOnlyOptimizer opt = new LrOnlyOptimizer();
        LrSchedule s = schedule(config(), opt);
        assertThat(opt.lrs).containsExactly(0.01, 0.02, 0.01);
        assertThat(s.baseLr()).isEqualTo(0.01);
        assertThat(s.lr()).isEqualTo(0.01);
        assertThat(s.groupLrs()).containsExactly(0.01, 0.02, 0.01);
        assertThatThrownBy(() -> new LrSchedule(config(), opt, new double[]{1, 2}, () -> {}, System.err))
                .hasMessageContaining("expected 3 lr multipliers");
    }

    @Test
    void warmUpScalesEveryGroupDuringItsStepsAndRestoresAfterEach() throws Exception {
        LrOnlyOptimizer opt = new LrOnlyOptimizer();
        LrSchedule s = schedule(config("warmup_iters=4", "warmup_factor=0.25", "lr_decay_epoch=9"), opt);
        TrainState st = new TrainState();
        st.startEpoch(6);
        // factor(i) = 0.25 * (1 - i/4) + i/4, by hand
        double[] factors = {0.25, 0.4375, 0.625, 0.8125, 1.0, 1.0};
        for (int i = 0; i < factors.length; i++) {
            s.beforeStep(st);
            for (int g = 0; g < GROUPS.size(); g++) {
                double expected = (g == 1 ? 0.02 : 0.01) * factors[i];
                assertThat(opt.lrs[g]).as("group " + g + " during step " + i).isCloseTo(expected, within(1e-15));
            }
            assertThat(s.lrAt(i)).as("logged lr of step " + i).isCloseTo(0.01 * factors[i], within(1e-15));
            st.stepDone(i, LOSSES);
            s.afterStep(st);
            assertThat(opt.lrs).as("after step " + i).containsExactly(0.01, 0.02, 0.01);
        }
        // A diverged step restores the lrs too.
        LrSchedule d = schedule(config("warmup_iters=4", "warmup_factor=0.25"), opt);
        TrainState fresh = new TrainState();
        d.beforeStep(fresh);
        assertThat(opt.lrs[0]).isCloseTo(0.0025, within(1e-15));
        fresh.stepDiverged(new double[]{Double.NaN, 0, 0, 0, Double.NaN});
        d.afterDivergedStep(fresh);
        assertThat(opt.lrs).containsExactly(0.01, 0.02, 0.01);
    }

    @Test
    void decayAtLrDecayEpochReloadsTheBestModelAndScalesEveryGroup() throws Exception {
        LrOnlyOptimizer opt = new LrOnlyOptimizer();
        LrSchedule s = schedule(config(), opt);
        TrainState st = new TrainState();
        st.best(0.5);
        s.afterEpoch(st);
        assertThat(reloads).as("no reload after epoch 0").isZero();
        assertThat(opt.lrs).containsExactly(0.01, 0.02, 0.01);

        st.endEpoch();
        s.afterEpoch(st);
        assertThat(reloads).as("the best model is reloaded after lr_decay_epoch (1)").isEqualTo(1);
        assertThat(s.baseLr()).isCloseTo(0.001, within(1e-18));
        assertThat(opt.lrs[0]).isCloseTo(0.001, within(1e-18));
        assertThat(opt.lrs[1]).isCloseTo(0.002, within(1e-18));
        assertThat(opt.lrs[2]).isCloseTo(0.001, within(1e-18));
        assertThat(s.groupLrs()).containsExactly(opt.lrs);
        assertThat(logged.toString()).contains("reloaded the best model (epoch 1), lr x 0.1");

        st.endEpoch();
        s.afterEpoch(st);
        assertThat(reloads).as("once").isEqualTo(1);
        assertThat(s.baseLr()).isCloseTo(0.001, within(1e-18));

        // Without a best model (no evaluation beat -1) there is nothing to reload: no decay either.
        LrOnlyOptimizer other = new LrOnlyOptimizer();
        LrSchedule n = schedule(config(), other);
        TrainState none = new TrainState();
        none.endEpoch();
        n.afterEpoch(none);
        assertThat(reloads).isEqualTo(1);
        assertThat(other.lrs).containsExactly(0.01, 0.02, 0.01);
    }

    @Test
    void aResumeMidWarmUpAfterTheDecayGivesTheUninterruptedRunsLrs() throws Exception {
        // Epochs of 3 steps, the decay after epoch 0, warm-up over the first 7 steps: step 4 is mid-warm-up, after
        // the decay, mid-epoch.
        Config cfg = config("warmup_iters=7", "warmup_factor=0.1", "lr_decay_epoch=0", "lr_decay=0.5");
        LrOnlyOptimizer a = new LrOnlyOptimizer();
        LrSchedule full = schedule(cfg, a);
        List<double[]> uninterrupted = new ArrayList<>();
        drive(full, a, new TrainState(), 4, 3, -1, uninterrupted);
        assertThat(uninterrupted).hasSize(12);

        LrOnlyOptimizer b = new LrOnlyOptimizer();
        LrSchedule first = schedule(cfg, b);
        TrainState st = new TrainState();
        List<double[]> before = new ArrayList<>();
        drive(first, b, st, 4, 3, 5, before);
        assertThat(st.epoch()).isEqualTo(1);
        assertThat(st.iteration()).isEqualTo(2);
        Checkpoint.Meta saved = new Checkpoint.Meta(cfg, List.of("circle"), st.epoch(), st.iteration(),
                st.globalStep(), st.bestMap(), st.bestEpoch(), first.baseLr(), first.groupLrs());

        LrOnlyOptimizer c = new LrOnlyOptimizer();
        LrSchedule resumed = schedule(cfg, c);
        TrainState rs = new TrainState();
        rs.restore(saved);
        resumed.restore(saved);
        assertThat(c.lrs).as("restored group lrs").containsExactly(first.groupLrs());
        List<double[]> after = new ArrayList<>();
        drive(resumed, c, rs, 4, 3, -1, after);

        List<double[]> joined = new ArrayList<>(before);
        joined.addAll(after);
        assertThat(joined).hasSize(12);
        for (int i = 0; i < 12; i++) {
            assertThat(joined.get(i)).as("group lrs during step " + i).containsExactly(uninterrupted.get(i));
            assertThat(resumed.lrAt(i)).as("logged lr of step " + i).isEqualTo(full.lrAt(i));
        }
        // The warm-up is still on at step 5 (factor < 1) and the base was decayed before it.
        assertThat(uninterrupted.get(5)[0]).isLessThan(0.005).isGreaterThan(0.0005);
        assertThat(c.lrs).containsExactly(a.lrs);
        assertThat(reloads).as("one reload per schedule that passed the decay epoch").isEqualTo(2);
    }

    @Test
    void aResumeWithAnotherLrScalesTheSavedScheduleAndSaysSo() {
        LrOnlyOptimizer opt = new LrOnlyOptimizer();
        LrSchedule s = schedule(config("lr=0.005"), opt);
        Checkpoint.Meta saved = new Checkpoint.Meta(config(), List.of("circle"), 2, 0, 30, 0.5, 0, 0.001,
                new double[]{0.001, 0.002, 0.001});
        s.restore(saved);
        assertThat(logged.toString()).contains("lr changed from 0.01 to 0.005: the saved learning rates are scaled by 0.5");
        assertThat(s.baseLr()).isEqualTo(0.0005);
        assertThat(opt.lrs).containsExactly(0.0005, 0.001, 0.0005);
    }
}
