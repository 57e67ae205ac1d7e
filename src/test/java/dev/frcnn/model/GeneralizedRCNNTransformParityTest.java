package dev.frcnn.model;

import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TvFpnFixture;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parity of {@link GeneralizedRCNNTransform} with torchvision 0.14 ({@code tv_fpn_forward.json}): resized size, padded
 * shape, sampled values, per-channel sums and the first padded row of the normalised, resized, padded batch; and the
 * boxes' rescale to the original frame ({@code det_boxes_resized_frame} to {@code det_boxes}).
 */
class GeneralizedRCNNTransformParityTest {
    /**
     * Normalised pixels are O(1) (|x| &lt;= 2.7); the resize reproduces PyTorch 1.13's weights, so the values agree to
     * float32 rounding (measured 2.4e-7 on the public set; LibTorch 2.10's own bilinear kernel gives 2.4e-5).
     */
    private static final double PIXEL_ATOL = 1e-6;

    private static Golden g;

    @BeforeAll
    static void load() {
        g = TvFpnFixture.forward();
    }

    @Test
    void resizedSizeAndPaddedShapeMatch() {
        GeneralizedRCNNTransform t = TvFpnFixture.transform(g);
        long[] orig = g.longs("input_image_rgb_hwc");
        long[] shape = g.shape("input_image_rgb_hwc");
        ImageSize resized = t.resizedSize(new ImageSize((int) shape[0], (int) shape[1]));
        long[] want = g.longs("transform_image_size");
        assertThat(new long[]{resized.height(), resized.width()}).isEqualTo(want);
        assertThat(orig.length).isEqualTo(shape[0] * shape[1] * 3);
    }

    @Test
    void batchValuesMatch() {
        try (PointerScope s = new PointerScope()) {
            GeneralizedRCNNTransform t = TvFpnFixture.transform(g);
            ImageList batch = t.apply(List.of(TvFpnFixture.image(g)));
            assertThat(Tensors.shape(batch.tensors())).isEqualTo(g.longs("transform_batched_shape"));
            long[] size = g.longs("transform_image_size");
            assertThat(batch.imageSizes()).containsExactly(new ImageSize((int) size[0], (int) size[1]));

            Tensor flat = batch.tensors().reshape(-1);
            float[] got = Tensors.toFloatArray(flat.index_select(0, Tensors.fromLongs(g.longs("transform_image_idx"),
                    g.longs("transform_image_idx").length)));
            float[] want = g.floats("transform_image_val");
            double worst = 0;
            for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
            assertThat(worst).as("max |diff| of the sampled values").isLessThanOrEqualTo(PIXEL_ATOL);

            double[] chsum = Tensors.toDoubleArray(batch.tensors().get(0).to(org.bytedeco.pytorch.global.torch.ScalarType.Double).sum(new long[]{1, 2}, false, new org.bytedeco.pytorch.ScalarTypeOptional()));
            double[] wantSum = g.doubles("transform_image_chsum");
            long pixels = size[0] * size[1];
            for (int c = 0; c < 3; c++) {
                assertThat(Math.abs(chsum[c] - wantSum[c])).as("channel sum %d", c).isLessThanOrEqualTo(PIXEL_ATOL * pixels);
            }
            float[] row0 = Tensors.toFloatArray(batch.tensors().get(0).select(1, 0));
            float[] wantRow = g.floats("transform_image_row0");
            assertThat(row0.length).isEqualTo(wantRow.length);
            for (int i = 0; i < row0.length; i++) {
                assertThat((double) Math.abs(row0[i] - wantRow[i])).as("row 0 [%d]", i).isLessThanOrEqualTo(PIXEL_ATOL);
            }
            System.out.println("transform: max |diff| of sampled values " + worst);
        }
    }

    @Test
    void boxesRescaleToTheOriginalFrame() {
        try (PointerScope s = new PointerScope()) {
            long[] shape = g.shape("input_image_rgb_hwc");
            long[] size = g.longs("transform_image_size");
            Tensor boxes = g.tensor("det_boxes_resized_frame");
            Tensor out = GeneralizedRCNNTransform.postprocessBoxes(boxes, new ImageSize((int) size[0], (int) size[1]),
                    new ImageSize((int) shape[0], (int) shape[1]));
            // The same float32 multiplications as torchvision: exact.
            assertThat(Tensors.toFloatArray(out)).containsExactly(g.floats("det_boxes"));
        }
    }
}
