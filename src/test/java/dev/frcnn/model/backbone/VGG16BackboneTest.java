package dev.frcnn.model.backbone;

import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.SequentialImpl;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;

class VGG16BackboneTest {
    /** Inference keeps activations in oneDNN's layout; the features must equal the dense (training) path's bit for bit. */
    @Test
    void inferencePathEqualsTheDensePathBitForBit() {
        manual_seed(3);
        VGG16Backbone b = new VGG16Backbone(false);
        try (PointerScope s = new PointerScope()) {
            Tensor x = randn(1, 3, 96, 128);
            Tensor dense = ((SequentialImpl) b.extractor()).forward(x).detach();
            Tensor inference;
            try (NoGradGuard g = new NoGradGuard()) {
                inference = b.extract(x);
            }
            assertThat(inference.is_mkldnn()).isFalse();
            assertThat(bitsDiffering(dense, inference)).as("feature elements that differ between the two paths").isZero();
        }
    }

    /**
     * Training with the reference's frozen conv1/conv2 runs layers 0..9 without autograd; the features and every
     * parameter gradient must equal those of the whole Sequential under autograd, bit for bit.
     */
    @Test
    void trainingPathWithTheFrozenPrefixEqualsTheFullGraphBitForBit() {
        manual_seed(5);
        VGG16Backbone full = new VGG16Backbone(false);
        manual_seed(5);
        VGG16Backbone split = new VGG16Backbone(false);
        try (PointerScope s = new PointerScope()) {
            Tensor x = randn(1, 3, 96, 128);
            Tensor upstream = randn(1, 512, 6, 8);
            Tensor a = ((SequentialImpl) full.extractor()).forward(x);
            Tensor b = split.extract(x);
            assertThat(b.is_mkldnn()).isFalse();
            assertThat(bitsDiffering(a.detach(), b.detach())).as("feature elements that differ").isZero();
            ConvolutionBackward.backward(a.mul(upstream).sum());
            ConvolutionBackward.backward(b.mul(upstream).sum());
            StringTensorDict pa = full.extractor().named_parameters(true), pb = split.extractor().named_parameters(true);
            int withGrad = 0;
            for (long i = 0; i < pa.size(); i++) {
                String key = pa.get(i).key().getString();
                Tensor ga = pa.get(i).value().grad(), gb = pb.get(i).value().grad();
                assertThat(gb.defined()).as(key + " has a gradient in both paths").isEqualTo(ga.defined());
                if (!ga.defined()) continue;
                withGrad++;
                assertThat(bitsDiffering(ga, gb)).as(key + " gradient elements that differ").isZero();
            }
            assertThat(withGrad).as("trainable extractor tensors (conv3_1 .. conv5_3)").isEqualTo(18);
        }
    }

    private static int bitsDiffering(Tensor x, Tensor y) {
        assertThat(Tensors.shape(y)).containsExactly(Tensors.shape(x));
        float[] a = Tensors.toFloatArray(x), c = Tensors.toFloatArray(y);
        int differing = 0;
        for (int i = 0; i < a.length; i++) if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(c[i])) differing++;
        return differing;
    }
}
