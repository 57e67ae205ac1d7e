package dev.frcnn.testing;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The splitmix64 formula weights reproduce every stored {@code param_sample_*} value exactly. */
class FormulaWeightsTest {
    @Test
    void reproducesEveryParamSampleOfModelForward() {
        Golden g = Golden.load("model_forward.json");
        List<FormulaWeights.Param> params = FormulaWeights.params(g);
        long[] ks = g.longs("param_sample_k");
        long[] is = g.longs("param_sample_i");
        float[] vs = g.floats("param_sample_value");
        assertThat(ks.length).isPositive().isEqualTo(is.length).isEqualTo(vs.length);
        for (int j = 0; j < ks.length; j++) {
            int k = (int) ks[j];
            assertThat(is[j]).isLessThan(params.get(k).numel());
            assertThat(FormulaWeights.value(k, is[j], params.get(k).bound()))
                    .as("k=%d i=%d", k, is[j]).isEqualTo(vs[j]);
        }
    }

    @Test
    void splitmix64KnownValues() {
        // splitmix64 seeded at 0 then stepping by the golden gamma: first outputs of the reference generator
        assertThat(FormulaWeights.splitmix64(0L)).isEqualTo(0xE220A8397B1DCDAFL);
    }
}
