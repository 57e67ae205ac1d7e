package dev.frcnn.train;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** detectron2's WarmupLinear factor: warmup_factor * (1 - i / iters) + i / iters below iters, then exactly 1. */
class WarmupLinearTest {
    @Test
    void factorsMatchDetectron2sLinearWarmup() {
        WarmupLinear w = new WarmupLinear(100, 0.001);
        // detectron2 _get_warmup_factor_at_iter("linear", it, 100, 0.001), evaluated by hand
        assertThat(w.at(0)).isCloseTo(0.001, within(1e-15));
        assertThat(w.at(50)).isCloseTo(0.5005, within(1e-15));
        assertThat(w.at(99)).isCloseTo(0.99001, within(1e-15));
        assertThat(w.at(100)).isEqualTo(1.0);
        assertThat(w.at(1_000_000)).isEqualTo(1.0);
    }

    @Test
    void zeroItersIsOff() {
        WarmupLinear w = new WarmupLinear(0, 0.001);
        assertThat(w.at(0)).isEqualTo(1.0);
        assertThat(w.at(1)).isEqualTo(1.0);
    }

    @Test
    void rejectsBadSettings() {
        assertThatThrownBy(() -> new WarmupLinear(-1, 0.1)).hasMessageContaining("warmup_iters");
        assertThatThrownBy(() -> new WarmupLinear(10, 0)).hasMessageContaining("warmup_factor");
        assertThatThrownBy(() -> new WarmupLinear(10, 1.5)).hasMessageContaining("warmup_factor");
    }
}
