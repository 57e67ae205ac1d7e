package dev.frcnn.model;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
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
            Tensor dense = b.extract(x).detach();
            Tensor inference;
            try (NoGradGuard g = new NoGradGuard()) {
                inference = b.extract(x);
            }
            assertThat(inference.is_mkldnn()).isFalse();
            assertThat(Tensors.shape(inference)).containsExactly(Tensors.shape(dense));
            float[] a = Tensors.toFloatArray(dense), c = Tensors.toFloatArray(inference);
            int differing = 0;
            for (int i = 0; i < a.length; i++) if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(c[i])) differing++;
            assertThat(differing).as("feature elements that differ between the two paths").isZero();
        }
    }
}
