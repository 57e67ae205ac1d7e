package dev.frcnn.ops;

import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link Nms} against {@code nms.json} (torchvision.ops.nms): every case, every threshold, keep indices exact. */
class NmsParityTest {
    private static final Pattern KEEP = Pattern.compile("^(|tie_|small_)keep_(\\d+)_(\\d+)$");

    /** Inputs of each case: (boxes, scores) tensor names; the keep_* names give the case and the threshold. */
    static String[] inputs(String prefix) {
        return switch (prefix) {
            case "" -> new String[]{"boxes", "scores"};
            case "tie_" -> new String[]{"boxes", "tie_scores"};
            case "small_" -> new String[]{"small_boxes", "small_scores"};
            default -> throw new IllegalStateException(prefix);
        };
    }

    record Case(String keepName, String prefix, double threshold) {}

    static List<Case> cases(Golden g) {
        List<Case> out = new ArrayList<>();
        for (Iterator<String> it = g.tensorNames(); it.hasNext(); ) {
            String name = it.next();
            Matcher m = KEEP.matcher(name);
            if (m.matches()) out.add(new Case(name, m.group(1), Double.parseDouble(m.group(2) + "." + m.group(3))));
        }
        return out;
    }

    @Test
    void everyCaseAndThresholdMatchesTorchvisionExactly() {
        Golden g = Golden.load("nms.json");
        List<Case> cases = cases(g);
        // every threshold of params has its three cases
        double[] thresholds = new double[g.params().get("thresholds").size()];
        for (int i = 0; i < thresholds.length; i++) thresholds[i] = g.params().get("thresholds").get(i).asDouble();
        assertThat(thresholds).isNotEmpty();
        for (double t : thresholds) {
            for (String prefix : new String[]{"", "tie_", "small_"}) {
                assertThat(cases).as("keep tensor for case '%s' threshold %s", prefix, t)
                        .anyMatch(c -> c.prefix().equals(prefix) && c.threshold() == t);
            }
        }
        for (Case c : cases) {
            try (PointerScope s = new PointerScope()) {
                String[] in = inputs(c.prefix());
                Tensor boxes = g.tensor(in[0]);
                Tensor scores = g.tensor(in[1]);
                Tensor keep = Nms.nms(boxes, scores, c.threshold());
                assertThat(Tensors.isType(keep, org.bytedeco.pytorch.global.torch.ScalarType.Long)).isTrue();
                TensorAssert.assertShape(keep, g.shape(c.keepName()), c.keepName());
                TensorAssert.assertExact(keep, g.longs(c.keepName()), c.keepName());
            }
        }
    }

    @Test
    void maxKeepGivesAPrefixOfTheFixture() {
        Golden g = Golden.load("nms.json");
        for (Case c : cases(g)) {
            try (PointerScope s = new PointerScope()) {
                String[] in = inputs(c.prefix());
                long[] expected = g.longs(c.keepName());
                for (long k : new long[]{0, 1, expected.length / 2, expected.length, expected.length + 5L}) {
                    Tensor keep = Nms.nms(g.tensor(in[0]), g.tensor(in[1]), c.threshold(), k);
                    long[] want = Arrays.copyOf(expected, (int) Math.min(k, expected.length));
                    TensorAssert.assertExact(keep, want, c.keepName() + " maxKeep " + k);
                }
            }
        }
    }

    @Test
    void reversedAxisOrderGivesTheSameResult() {
        // the reference feeds (ymin, xmin, ymax, xmax); the fixture used (x1, y1, x2, y2)
        Golden g = Golden.load("nms.json");
        for (Case c : cases(g)) {
            try (PointerScope s = new PointerScope()) {
                String[] in = inputs(c.prefix());
                Tensor b = g.tensor(in[0]);
                Tensor swapped = b.index_select(1, Tensors.fromLongs(new long[]{1, 0, 3, 2}, 4));
                TensorAssert.assertExact(Nms.nms(swapped, g.tensor(in[1]), c.threshold()), g.longs(c.keepName()),
                        c.keepName() + " (y, x order)");
            }
        }
    }
}
