package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertShape;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The training {@link Transform} as the reference's {@code data/dataset.Transform}: image and boxes resized by the
 * same scale (preprocess.json's small size), flipped together, and {@code scale = H' / H}.
 */
class TransformTest {
    private static final Golden G = Golden.load("preprocess.json");

    private static Tensor demoImage() {
        return Tensors.fromLongs(G.longs("image_rgb_hwc"), G.shape("image_rgb_hwc"))
                .permute(2, 0, 1).to(ScalarType.Float).contiguous();
    }

    private static Transform small() {
        var p = G.params().get("small");
        return new Transform(new Preprocessing(p.get("min_size").asInt(), p.get("max_size").asInt(), Normalization.TORCHVISION));
    }

    @Test
    void resizesImageAndBoxesAsTheReference() {
        try (PointerScope s = new PointerScope()) {
            long[] hw = {G.params().get("image_hw").get(0).asLong(), G.params().get("image_hw").get(1).asLong()};
            Tensor label = Tensors.fromLongs(new long[]{0, 1, 2}, new long[]{3});
            try (Transform.Sample t = small().apply(demoImage(), G.tensor("bbox_in"), label, false)) {
                assertShape(t.img(), G.shape("torchvision_small"), "image");
                assertAllClose(t.img(), G.floats("torchvision_small"), 1e-6, 0, "transformed image");
                assertAllClose(t.bbox(), G.floats("bbox_resized_small"), 0, 0, "resized boxes");
                assertThat(Tensors.toLongArray(t.label())).containsExactly(0, 1, 2);
                // The reference's Transform returns o_H / H (not the requested scale).
                assertThat(t.scale()).as("scale").isEqualTo((double) G.shape("torchvision_small")[1] / hw[0]);
            }
        }
    }

    @Test
    void flipsImageAndBoxesTogether() {
        try (PointerScope s = new PointerScope()) {
            Tensor label = Tensors.fromLongs(new long[]{0, 1, 2}, new long[]{3});
            try (Transform.Sample t = small().apply(demoImage(), G.tensor("bbox_in"), label, true)) {
                Tensor expected = G.tensor("torchvision_small").flip(2);
                assertAllClose(t.img(), Tensors.toFloatArray(expected), 1e-6, 0, "flipped image");
                assertAllClose(t.bbox(), G.floats("bbox_resized_small_xflip"), 0, 0, "flipped boxes");
            }
        }
    }

    /** A white rectangle on black: after the transform, the bright pixels must lie on the transformed box. */
    @Test
    void aBoxDrawnOnTheImageLandsOnTheTransformedBox() {
        int h = 150, w = 200;
        float[] px = new float[3 * h * w];
        int y0 = 30, x0 = 20, y1 = 90, x1 = 70;   // pixels [y0, y1) x [x0, x1): box (ymin, xmin, ymax, xmax) = (y0, x0, y1, x1)
        for (int c = 0; c < 3; c++) {
            for (int y = y0; y < y1; y++) {
                for (int x = x0; x < x1; x++) px[(c * h + y) * w + x] = 255f;
            }
        }
        for (boolean flip : new boolean[]{false, true}) {
            try (PointerScope s = new PointerScope()) {
                Tensor img = Tensors.fromFloats(px, new long[]{3, h, w});
                Tensor box = Tensors.fromFloats(new float[]{y0, x0, y1, x1}, new long[]{1, 4});
                Tensor label = Tensors.fromLongs(new long[]{1}, new long[]{1});
                try (Transform.Sample t = new Transform(new Preprocessing(300, 500, Normalization.TORCHVISION)).apply(img, box, label, flip)) {
                    long oh = t.img().size(1), ow = t.img().size(2);
                    assertThat(oh).isEqualTo(300);
                    float[] b = Tensors.toFloatArray(t.bbox());
                    // Bright extent of channel 0 (normalised white is about 2.2, black about -2.1): threshold at 0.
                    float[] ch = Tensors.toFloatArray(t.img().get(0));
                    int minY = Integer.MAX_VALUE, minX = Integer.MAX_VALUE, maxY = -1, maxX = -1;
                    for (int y = 0; y < oh; y++) {
                        for (int x = 0; x < ow; x++) {
                            if (ch[(int) (y * ow + x)] > 0) {
                                minY = Math.min(minY, y); maxY = Math.max(maxY, y);
                                minX = Math.min(minX, x); maxX = Math.max(maxX, x);
                            }
                        }
                    }
                    // Pixel extents [min, max + 1) against the box edges, within the resize's blur (1 px).
                    String what = flip ? "flipped" : "unflipped";
                    assertThat((double) minY).as(what + " ymin").isCloseTo(b[0], within(1.0));
                    assertThat((double) minX).as(what + " xmin").isCloseTo(b[1], within(1.0));
                    assertThat((double) maxY + 1).as(what + " ymax").isCloseTo(b[2], within(1.0));
                    assertThat((double) maxX + 1).as(what + " xmax").isCloseTo(b[3], within(1.0));
                    double sc = t.scale();
                    double ex0 = flip ? ow - x1 * sc : x0 * sc;
                    assertThat((double) b[1]).as(what + " box xmin").isCloseTo(ex0, within(1e-3));
                }
            }
        }
    }
}
