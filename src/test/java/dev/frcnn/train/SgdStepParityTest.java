package dev.frcnn.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.config.Config;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.FasterRCNNVGG16;
import dev.frcnn.tensor.Precision;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.FormulaWeights;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertScalarClose;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parity of {@link FasterRCNNTrainer#trainStep} (forward, backward, {@code optimizer.step()}) and of a second
 * optimizer step on the same gradients with sgd_step.json: every trainable parameter's optimizer group (lr,
 * weight decay, momentum, dampening, nesterov) exactly as the reference's {@code get_optimizer} with the
 * {@code utils/config} defaults, frozen parameters in no group and unmoved, and the parameter changes
 * ({@code delta1}, {@code delta2}: L2 norms of 17 named parameters, full changes of 4 biases) within the README's
 * tolerances.
 */
class SgdStepParityTest {
    /** The settings of one optimizer group, as the fixture lists them. */
    record Group(double lr, double weightDecay, double momentum, double dampening, boolean nesterov) {}

    private static Golden g;
    private static final Map<String, Group> groups = new LinkedHashMap<>();
    private static final Map<String, float[]> delta1 = new HashMap<>(), delta2 = new HashMap<>();
    private static final Map<String, Double> norm1 = new HashMap<>(), norm2 = new HashMap<>();
    private static final Map<String, Double> frozenMaxChange = new HashMap<>();
    private static double totalLoss;

    @BeforeAll
    static void runTrainStepAndSecondStep() {
        g = Golden.load("sgd_step.json");
        Golden weights = Golden.load("model_forward.json");
        int nFg = weights.params().get("n_fg_class").asInt();
        List<String> names = IntStream.range(0, nFg).mapToObj(i -> "c" + i).toList();
        Config cfg = Config.defaults();   // the reference's utils/config defaults (lr, weight decay, SGD, sigmas)
        try (PointerScope s = new PointerScope()) {
            FasterRCNN model = new FasterRCNNVGG16(nFg, new double[]{0.5, 1, 2}, new double[]{8, 16, 32}, false, names, Precision.FP32);
            FormulaWeights.fill(model, weights);
            model.train(true);
            FasterRCNNTrainer trainer = new FasterRCNNTrainer(model, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(),
                    cfg.weightDecay(), cfg.useAdam(), Sampler.firstN());

            StringTensorDict np = model.named_parameters(true);
            for (TrainOptimizer.Group o : trainer.optimizer().groups()) {
                assertThat(np.contains(o.name())).as("group %s is a model parameter", o.name()).isTrue();
                assertThat(groups).as("%s is in more than one group", o.name()).doesNotContainKey(o.name());
                groups.put(o.name(), new Group(o.lr(), o.weightDecay(), o.momentum(), o.dampening(), o.nesterov()));
            }

            // Snapshots of the parameters the fixture describes (the big fc6 weight included; nothing else).
            Set<String> watched = new LinkedHashSet<>();
            g.params().get("delta_names").forEach(n -> watched.add(n.asText()));
            g.params().get("frozen_params").forEach(n -> watched.add(n.asText()));
            Map<String, Tensor> before = new HashMap<>(), after1 = new HashMap<>();
            for (String n : watched) before.put(n, np.get(n).detach().clone());

            JsonNode p = g.params();
            FasterRCNNTrainer.Losses l = trainer.trainStep(g.tensor("input"), g.tensor("gt_bbox").unsqueeze(0),
                    g.tensor("gt_label").unsqueeze(0), p.get("scale").asDouble());
            totalLoss = l.totalLoss().item_double();
            for (String n : watched) after1.put(n, np.get(n).detach().clone());
            trainer.optimizer().step();   // the second step on the same gradients (momentum buffer)

            for (String n : watched) {
                Tensor d1 = after1.get(n).sub(before.get(n)), d2 = np.get(n).detach().sub(after1.get(n));
                // Norms in float64, as the fixture's (a float32 reduction over fc6's 100M elements is too coarse).
                norm1.put(n, d1.to(ScalarType.Double).norm().item_double());
                norm2.put(n, d2.to(ScalarType.Double).norm().item_double());
                if (g.has("delta1_" + n)) {
                    delta1.put(n, Tensors.toFloatArray(d1));
                    delta2.put(n, Tensors.toFloatArray(d2));
                }
                frozenMaxChange.put(n, np.get(n).detach().sub(before.get(n)).abs().max().item_double());
            }
        }
    }

    @Test
    void everyTrainableParameterHasTheReferencesGroup() {
        JsonNode expected = g.params().get("groups");
        Set<String> expectedNames = new LinkedHashSet<>();
        expected.fieldNames().forEachRemaining(expectedNames::add);
        assertThat(groups.keySet()).as("parameters with an optimizer group").containsExactlyInAnyOrderElementsOf(expectedNames);
        for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode x = e.getValue();
            Group want = new Group(x.get("lr").asDouble(), x.get("weight_decay").asDouble(), x.get("momentum").asDouble(),
                    x.get("dampening").asDouble(), x.get("nesterov").asBoolean());
            assertThat(groups.get(e.getKey())).as("optimizer group of " + e.getKey()).isEqualTo(want);
        }
    }

    @Test
    void frozenParametersAreInNoGroupAndDoNotMove() {
        JsonNode frozen = g.params().get("frozen_params");
        assertThat(frozen.size()).isPositive();
        for (JsonNode f : frozen) {
            assertThat(groups).as("frozen " + f.asText() + " in an optimizer group").doesNotContainKey(f.asText());
            assertThat(frozenMaxChange.get(f.asText())).as("max |change| of frozen " + f.asText()).isEqualTo(0.0);
        }
    }

    @Test
    void lossOfTheStepMatches() {
        double expected = g.scalar("total_loss");
        assertScalarClose(totalLoss, expected, 1e-5 * Math.abs(expected), "total_loss");
    }

    @Test
    void parameterChangeNormsMatch() {
        JsonNode names = g.params().get("delta_names");
        double[] n1 = g.doubles("delta1_l2_norms"), n2 = g.doubles("delta2_l2_norms");
        assertThat(names.size()).isEqualTo(n1.length).isEqualTo(n2.length).isPositive();
        for (int i = 0; i < n1.length; i++) {
            String n = names.get(i).asText();
            double rtol = n.startsWith("extractor.") || n.endsWith("bias") ? 1e-3 : 1e-4;
            assertScalarClose(norm1.get(n), n1[i], rtol * n1[i], "delta1 L2 norm of " + n);
            assertScalarClose(norm2.get(n), n2[i], rtol * n2[i], "delta2 L2 norm of " + n);
        }
    }

    @Test
    void fullBiasChangesMatch() {
        int checked = 0;
        for (Iterator<String> it = g.tensorNames(); it.hasNext(); ) {
            String t = it.next();
            if (!t.startsWith("delta1_") || t.equals("delta1_l2_norms")) continue;
            String n = t.substring("delta1_".length());
            assertThat(delta1).as("change of " + n + " recorded").containsKey(n);
            assertAllClose(delta1.get(n), g.floats(t), 1e-8, 1e-4, "delta1 of " + n);
            assertAllClose(delta2.get(n), g.floats("delta2_" + n), 1e-8, 1e-4, "delta2 of " + n);
            checked++;
        }
        assertThat(checked).as("full bias changes in the fixture").isPositive();
    }
}
