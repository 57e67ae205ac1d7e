package dev.frcnn.model.backbone;

import dev.frcnn.testing.TvFpnFixture;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * {@link FeaturePyramidNetwork} with a norm layer ({@code fasterrcnn_resnet50_fpn_v2}'s {@code Conv2dNormActivation}
 * blocks): the keys are torchvision's ({@code .0.weight} without bias, {@code .1.*}); with identity norms it is the
 * plain FPN with zero biases; a norm that scales by 1/2 acts right after its block's convolution (the same as halving
 * that convolution's weight), i.e. on the lateral before the top-down sum and on the output after it.
 */
class FeaturePyramidNetworkNormTest {
    private static final int[] IN = {8, 16, 32};
    private static final int OUT = 4;

    private static List<Tensor> inputs() {
        return List.of(randn(2, 8, 16, 12), randn(2, 16, 8, 6), randn(2, 32, 4, 3));
    }

    /** Copies the normed FPN's convolution weights into the plain one (whose biases stay 0). */
    private static void copyConvs(FeaturePyramidNetwork from, FeaturePyramidNetwork to) {
        Map<String, Tensor> src = TvFpnFixture.targets(from, "");
        Map<String, Tensor> dst = TvFpnFixture.targets(to, "");
        try (NoGradGuard g = new NoGradGuard()) {
            for (String k : dst.keySet()) {
                if (k.endsWith(".0.weight")) dst.get(k).copy_(src.get(k));
                else dst.get(k).zero_();
            }
        }
    }

    private static void assertSame(List<Tensor> a, List<Tensor> b) {
        assertThat(a).hasSameSizeAs(b);
        for (int i = 0; i < a.size(); i++) {
            double diff = a.get(i).sub(b.get(i)).abs().max().item_double();
            double scale = b.get(i).abs().max().item_double();
            assertThat(diff).as("level %d", i).isLessThanOrEqualTo(1e-6 * Math.max(1.0, scale));
        }
    }

    @Test
    void normedBlocksHaveTorchvisionsKeysAndActRightAfterTheirConvolution() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            FeaturePyramidNetwork normed = new FeaturePyramidNetwork(IN, OUT, FrozenBatchNorm2d.asNormLayer(0.0, true));
            FeaturePyramidNetwork plain = new FeaturePyramidNetwork(IN, OUT);
            Map<String, Tensor> keys = TvFpnFixture.targets(normed, "");
            assertThat(keys).containsKeys("inner_blocks.0.0.weight", "inner_blocks.0.1.weight",
                    "inner_blocks.2.1.num_batches_tracked", "layer_blocks.1.1.running_var")
                    .doesNotContainKeys("inner_blocks.0.0.bias", "layer_blocks.0.0.bias");
            assertThat(TvFpnFixture.targets(plain, "")).containsKey("inner_blocks.0.0.bias")
                    .doesNotContainKey("inner_blocks.0.1.weight");
            copyConvs(normed, plain);
            List<Tensor> x = inputs();

            assertSame(normed.forward(x), plain.forward(x));

            // running_var 4 (eps 0): the norm halves its input, as halving the block's (bias-free) convolution does
            keys.get("inner_blocks.1.1.running_var").fill_(new Scalar(4.0));
            keys.get("layer_blocks.0.1.running_var").fill_(new Scalar(4.0));
            Map<String, Tensor> p = TvFpnFixture.targets(plain, "");
            p.get("inner_blocks.1.0.weight").mul_(new Scalar(0.5));
            p.get("layer_blocks.0.0.weight").mul_(new Scalar(0.5));
            List<Tensor> a = normed.forward(x);
            assertSame(a, plain.forward(x));

            // and the norm's shift is added after the convolution: bias b on layer block 2's norm adds b to level 2
            List<Tensor> before = normed.forward(x);
            keys.get("layer_blocks.2.1.bias").fill_(new Scalar(0.25));
            List<Tensor> after = normed.forward(x);
            assertThat(after.get(2).sub(before.get(2)).sub(new Scalar(0.25)).abs().max().item_double()).isLessThan(1e-6);
            assertThat(after.get(1).equal(before.get(1))).isTrue();
        }
    }
}
