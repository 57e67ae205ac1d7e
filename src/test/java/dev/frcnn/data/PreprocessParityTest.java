package dev.frcnn.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.util.Locale;

import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertShape;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Parity of {@link ImageReader} and {@link Preprocess} with {@code preprocess.json}. */
@SuppressWarnings("try")
class PreprocessParityTest {
    private static final Golden G = Golden.load("preprocess.json");
    /** README: "other JPEG decoders can differ by a few levels". */
    private static final int DECODE_MAX_LEVELS = 4;
    private static final double ATOL_TORCHVISION = 1e-6, ATOL_CAFFE = 3e-5, RTOL_STATS = 1e-6;

    /** The stored decoded pixels as (3, H, W) float32. */
    private static Tensor storedChw() {
        return Tensors.fromLongs(G.longs("image_rgb_hwc"), G.shape("image_rgb_hwc"))
                .permute(2, 0, 1).to(ScalarType.Float).contiguous();
    }

    private static Normalization norm(String prefix) {
        return prefix.equals("caffe") ? Normalization.CAFFE : Normalization.TORCHVISION;
    }

    private static double atol(String prefix) {
        return prefix.equals("caffe") ? ATOL_CAFFE : ATOL_TORCHVISION;
    }

    @Test
    void decodesDemoJpegLikePil() {
        try (PointerScope s = new PointerScope()) {
            Tensor img = ImageReader.readRgbChw(Golden.file(G.params().path("image_file").asText()));
            Tensor stored = storedChw();
            assertShape(img, Tensors.shape(stored), "decoded image");
            assertThat(Tensors.isType(img, ScalarType.Float)).isTrue();
            double maxDiff = img.sub(stored).abs().max().item_double();
            System.out.printf(Locale.ROOT, "decode vs PIL: max |diff| %.0f levels%n", maxDiff);
            assertThat(maxDiff).as("max |decoded - PIL| in levels").isLessThanOrEqualTo(DECODE_MAX_LEVELS);
        }
    }

    @Test
    void scaleMatchesReference() {
        long[] hw = {G.params().path("image_hw").get(0).asLong(), G.params().path("image_hw").get(1).asLong()};
        for (String size : new String[] {"small", "large"}) {
            JsonNode p = G.params().path(size);
            double s = Preprocess.scale(hw[0], hw[1], p.path("min_size").asInt(), p.path("max_size").asInt());
            assertThat(s).as(size + " scale").isEqualTo(p.path("scale").asDouble());
            assertThat(hw[0] * s).as(size + " requested H").isEqualTo(p.path("requested_hw").get(0).asDouble());
            assertThat(hw[1] * s).as(size + " requested W").isEqualTo(p.path("requested_hw").get(1).asDouble());
        }
    }

    @Test
    void smallSizeFromStoredPixels() {
        JsonNode p = G.params().path("small");
        for (String prefix : new String[] {"torchvision", "caffe"}) {
            try (PointerScope s = new PointerScope()) {
                Tensor out = Preprocess.preprocess(storedChw(), p.path("min_size").asInt(),
                        p.path("max_size").asInt(), norm(prefix));
                String name = prefix + "_small";
                assertShape(out, G.shape(name), name);
                assertThat(Tensors.isType(out, ScalarType.Float)).isTrue();
                assertAllClose(out, G.floats(name), atol(prefix), 0, name);
            }
        }
    }

    @Test
    void largeSizeFromStoredPixels() {
        JsonNode p = G.params().path("large");
        int crop = G.params().path("crop_size").asInt();
        for (String prefix : new String[] {"torchvision", "caffe"}) {
            try (PointerScope s = new PointerScope()) {
                Tensor out = Preprocess.preprocess(storedChw(), p.path("min_size").asInt(),
                        p.path("max_size").asInt(), norm(prefix));
                assertThat(Tensors.shape(out)).as(prefix + " large shape").containsExactly(G.longs(prefix + "_large_shape"));
                // per-channel float64 mean and population std of the float32 output
                Tensor d = out.to(ScalarType.Double).view(out.size(0), -1);
                double[] mean = Tensors.toDoubleArray(d.mean(new long[] {1}));
                double[] std = Tensors.toDoubleArray(d.sub(d.mean(new long[] {1}).view(-1, 1)).pow(new org.bytedeco.pytorch.Scalar(2.0))
                        .mean(new long[] {1}).sqrt());
                double[] eMean = G.doubles(prefix + "_large_channel_mean");
                double[] eStd = G.doubles(prefix + "_large_channel_std");
                for (int c = 0; c < eMean.length; c++) {
                    assertThat(mean[c]).as(prefix + " mean[" + c + "]").isCloseTo(eMean[c], within(RTOL_STATS * Math.abs(eMean[c])));
                    assertThat(std[c]).as(prefix + " std[" + c + "]").isCloseTo(eStd[c], within(RTOL_STATS * Math.abs(eStd[c])));
                }
                for (String where : new String[] {"tl", "center", "br"}) {
                    String name = prefix + "_large_crop_" + where;
                    JsonNode o = G.params().path("shapes").path(name + "_origin_yx");
                    long y = o.get(0).asLong(), x = o.get(1).asLong();
                    Tensor c = out.slice(1, new LongOptional(y), new LongOptional(y + crop), 1)
                            .slice(2, new LongOptional(x), new LongOptional(x + crop), 1);
                    assertShape(c, G.shape(name), name);
                    assertAllClose(c, G.floats(name), atol(prefix), 0, name);
                }
            }
        }
    }

    @Test
    void resizeIsBitExact() {
        // The README's independent re-derivation was bit-exact except <= 0.3% of elements at 1 ulp; ours follows
        // scipy's arithmetic order in float64 without fused multiply-adds, so every element must be identical.
        JsonNode p = G.params().path("small");
        try (PointerScope s = new PointerScope()) {
            Tensor out = Preprocess.preprocess(storedChw(), p.path("min_size").asInt(), p.path("max_size").asInt(),
                    Normalization.TORCHVISION);
            float[] a = Tensors.toFloatArray(out), e = G.floats("torchvision_small");
            int diff = 0;
            for (int i = 0; i < a.length; i++) if (a[i] != e[i]) diff++;
            System.out.printf(Locale.ROOT, "torchvision_small: %d of %d elements not bit-identical%n", diff, a.length);
            assertThat(diff).as("elements not bit-identical").isZero();
        }
    }

    @Test
    void bboxResizeAndFlip() {
        try (PointerScope s = new PointerScope()) {
            long[] in = {G.params().path("image_hw").get(0).asLong(), G.params().path("image_hw").get(1).asLong()};
            long[] out = {G.shape("torchvision_small")[1], G.shape("torchvision_small")[2]};
            Tensor bbox = G.tensor("bbox_in");
            Tensor r = Preprocess.resizeBbox(bbox, in[0], in[1], out[0], out[1]);
            assertAllClose(r, G.floats("bbox_resized_small"), 0, 0, "bbox_resized_small");
            Tensor f = Preprocess.flipBbox(r, out[0], out[1], false, true);
            assertAllClose(f, G.floats("bbox_resized_small_xflip"), 0, 0, "bbox_resized_small_xflip");
            // flipping twice is the identity (up to float32 rounding of W - (W - x)); a y flip touches only y
            assertAllClose(Preprocess.flipBbox(f, out[0], out[1], false, true), G.floats("bbox_resized_small"), 1e-4, 0, "double flip");
            Tensor yf = Preprocess.flipBbox(r, out[0], out[1], true, false);
            float[] rv = Tensors.toFloatArray(r), yv = Tensors.toFloatArray(yf);
            for (int i = 0; i < rv.length / 4; i++) {
                assertThat(yv[4 * i]).isEqualTo(out[0] - rv[4 * i + 2]);
                assertThat(yv[4 * i + 1]).isEqualTo(rv[4 * i + 1]);
                assertThat(yv[4 * i + 2]).isEqualTo(out[0] - rv[4 * i]);
                assertThat(yv[4 * i + 3]).isEqualTo(rv[4 * i + 3]);
            }
        }
    }

    @Test
    void imageFlip() {
        try (PointerScope s = new PointerScope()) {
            Tensor img = storedChw();
            Tensor f = Preprocess.flipImage(img, false, true);
            long w = img.size(2);
            assertThat(f.get(1).get(5).get(0).item_float()).isEqualTo(img.get(1).get(5).get(w - 1).item_float());
            assertThat(Preprocess.flipImage(f, false, true).equal(img)).isTrue();
            Tensor v = Preprocess.flipImage(img, true, false);
            assertThat(v.get(0).get(0).equal(img.get(0).get(img.size(1) - 1))).isTrue();
        }
    }
}
