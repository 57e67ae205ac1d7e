package dev.frcnn.model.rpn;

import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.FpnGridSizes;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TvFpnParams;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.frcnn.testing.TensorAssert.assertExact;
import static dev.frcnn.testing.TensorAssert.assertShape;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * torchvision's AnchorGenerator against {@code tv_fpn_forward.json} (anchors of one padded image: count per level,
 * strides, the first and last 6 rows of each level, all exact) and {@code tv_fpn_train_step.json} (the anchors of a
 * padded batch of two: count, and the sampled positive anchors of each image, exact).
 */
class AnchorGeneratorParityTest {
    private static final int ROWS = 6;

    @Test
    void forwardFixtureAnchorsAreExact() {
        Golden g = Golden.load("tv_fpn_forward.json");
        AnchorGenerator gen = TvFpnParams.anchorGenerator();
        long[] batched = g.longs("transform_batched_shape");
        long ph = batched[2], pw = batched[3];
        String[] names = {"0", "1", "2", "3", "pool"};
        List<long[]> grids = new ArrayList<>();
        for (String n : names) {
            long[] s = g.longs("fpn_" + n + "_shape");
            grids.add(new long[]{s[2], s[3]});
        }
        // The stored feature shapes follow from the padded size by the backbone's convolution arithmetic.
        List<long[]> computed = FpnGridSizes.of(ph, pw);
        for (int l = 0; l < names.length; l++) {
            assertThat(computed.get(l)).as("grid of level " + names[l]).containsExactly(grids.get(l));
        }
        long[] strides = g.longs("anchors_strides");
        for (int l = 0; l < names.length; l++) {
            assertThat(AnchorGenerator.stride(ph, pw, grids.get(l))).as("stride of level " + names[l])
                    .containsExactly(strides[2 * l], strides[2 * l + 1]);
        }
        try (PointerScope s = new PointerScope()) {
            List<Tensor> levels = gen.gridAnchors(ph, pw, grids, new Device("cpu"));
            long[] perLevel = g.longs("anchors_per_level");
            float[] first = g.floats("anchors_first_rows");
            float[] last = g.floats("anchors_last_rows");
            int[] perLocation = gen.numAnchorsPerLocation();
            for (int l = 0; l < levels.size(); l++) {
                Tensor a = levels.get(l);
                assertThat(a.size(0)).as("anchors of level " + names[l]).isEqualTo(perLevel[l]);
                assertThat(a.size(0)).as("H*W*A of level " + names[l])
                        .isEqualTo(grids.get(l)[0] * grids.get(l)[1] * perLocation[l]);
                assertExact(a.narrow(0, 0, ROWS), Arrays.copyOfRange(first, l * ROWS * 4, (l + 1) * ROWS * 4),
                        "first rows of level " + names[l]);
                assertExact(a.narrow(0, a.size(0) - ROWS, ROWS), Arrays.copyOfRange(last, l * ROWS * 4, (l + 1) * ROWS * 4),
                        "last rows of level " + names[l]);
            }
            Tensor all = gen.anchors(ph, pw, grids, new Device("cpu"));
            assertShape(all, new long[]{g.longs("anchors_total")[0], 4}, "all anchors");
            assertThat(Tensors.typeName(all)).isEqualTo("Float");
        }
    }

    @Test
    void trainingBatchAnchorsMatchTheSampledAnchors() {
        Golden g = Golden.load("tv_fpn_train_step.json");
        AnchorGenerator gen = TvFpnParams.anchorGenerator();
        long[] batched = g.longs("batched_shape");
        try (PointerScope s = new PointerScope()) {
            Tensor anchors = gen.anchors(batched[2], batched[3], FpnGridSizes.of(batched[2], batched[3]), new Device("cpu"));
            assertThat(anchors.size(0)).as("anchors per image").isEqualTo(g.longs("anchors_total")[0]);
            for (int i = 0; i < 2; i++) {
                Tensor pos = anchors.index_select(0, g.tensor("rpn_sampled_pos_" + i));
                assertExact(pos, g.floats("rpn_pos_anchors_" + i), "anchors at rpn_sampled_pos_" + i);
            }
        }
    }

    @Test
    void baseAnchorsRoundHalfToEvenAndCountPerLocation() {
        AnchorGenerator gen = AnchorGenerator.resnet50Fpn();
        assertThat(gen.numAnchorsPerLocation()).containsExactly(3, 3, 3, 3, 3);
        try (PointerScope s = new PointerScope()) {
            // size 32: ratio 0.5 -> w = 32/sqrt(0.5) = 45.25, h = 22.63 -> round(22.627) = 23, round(11.31) = 11.
            assertExact(gen.cellAnchors(0), new float[]{-23, -11, 23, 11, -16, -16, 16, 16, -11, -23, 11, 23},
                    "base anchors of level 0");
            // A size whose half is x.5 rounds to even: size 5, ratio 1 -> +-2.5 -> +-2.
            AnchorGenerator odd = new AnchorGenerator(new double[][]{{5}}, new double[][]{{1.0}});
            assertExact(odd.cellAnchors(0), new float[]{-2, -2, 2, 2}, "half to even");
        }
    }

    @Test
    void levelCountMismatchIsRefused() {
        AnchorGenerator gen = AnchorGenerator.resnet50Fpn();
        assertThatThrownBy(() -> gen.anchors(64, 64, List.of(new long[]{16, 16}), new Device("cpu")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("5 levels").hasMessageContaining("1 feature maps");
        assertThatThrownBy(() -> new AnchorGenerator(new double[][]{{32}}, new double[][]{{0.5}, {1}}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AnchorGenerator(new double[][]{{-32}}, new double[][]{{1}}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("> 0");
    }
}
