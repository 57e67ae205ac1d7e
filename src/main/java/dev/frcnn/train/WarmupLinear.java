package dev.frcnn.train;

/**
 * Linear learning-rate warm-up with detectron2's {@code WarmupLinear} semantics
 * ({@code detectron2.solver.lr_scheduler._get_warmup_factor_at_iter(method="linear")}): at global step
 * {@code i} (0-based, counted over the whole run) the learning rate is multiplied by
 * <pre>  factor(i) = warmup_factor * (1 - a) + a,  a = i / warmup_iters,   for i &lt; warmup_iters
 *  factor(i) = 1                                                    for i &gt;= warmup_iters</pre>
 * The factor multiplies whatever the schedule's learning rate is at that step (after any decay), as detectron2's
 * {@code WarmupParamScheduler} does. The reference has no warm-up; {@code warmup_iters = 0} turns it off.
 * {@link LrSchedule} applies it to the optimizer's groups.
 *
 * @param iters {@code warmup_iters}: steps of warm-up ({@code 0} = none)
 * @param factor {@code warmup_factor}: the multiplier at step 0, in (0, 1]
 */
public record WarmupLinear(int iters, double factor) {
    public WarmupLinear {
        if (iters < 0) throw new IllegalArgumentException("warmup_iters must be >= 0, got " + iters);
        if (!(factor > 0 && factor <= 1)) throw new IllegalArgumentException("warmup_factor must be in (0, 1], got " + factor);
    }

    /**
     * @param step the 0-based global training step
     * @return the learning-rate multiplier at {@code step}: in [{@code factor}, 1], exactly 1 after the warm-up
     */
    public double at(long step) {
        if (step >= iters) return 1.0;
        double a = (double) step / iters;
        return factor * (1 - a) + a;
    }
}
