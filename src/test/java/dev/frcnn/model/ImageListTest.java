package dev.frcnn.model;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageListTest {
    private static Tensor ramp(int c, int h, int w, float start) {
        float[] v = new float[c * h * w];
        for (int i = 0; i < v.length; i++) v[i] = start + i;
        return Tensors.fromFloats(v, c, h, w);
    }

    @Test
    void padsBottomRightToTheDivisorAndKeepsEachImageTopLeft() {
        try (PointerScope scope = new PointerScope()) {
            Tensor a = ramp(3, 5, 7, 1f);
            Tensor b = ramp(3, 9, 4, 1000f);
            ImageList list = ImageList.pad(List.of(a, b), 4);
            assertThat(Tensors.shape(list.tensors())).containsExactly(2, 3, 12, 8);
            assertThat(list.imageSizes()).containsExactly(new ImageSize(5, 7), new ImageSize(9, 4));
            assertThat(list.paddedSize()).isEqualTo(new ImageSize(12, 8));
            float[] got = Tensors.toFloatArray(list.tensors());
            for (int n = 0; n < 2; n++) {
                Tensor im = n == 0 ? a : b;
                int h = (int) im.size(1), w = (int) im.size(2);
                float[] src = Tensors.toFloatArray(im);
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < 12; y++) {
                        for (int x = 0; x < 8; x++) {
                            float v = got[((n * 3 + c) * 12 + y) * 8 + x];
                            float want = y < h && x < w ? src[(c * h + y) * w + x] : 0f;
                            assertThat(v).as("n=%d c=%d y=%d x=%d", n, c, y, x).isEqualTo(want);
                        }
                    }
                }
            }
        }
    }

    @Test
    void divisorOneOnlyPadsToTheLargestImage() {
        try (PointerScope scope = new PointerScope()) {
            ImageList list = ImageList.pad(List.of(ramp(1, 3, 2, 0f), ramp(1, 2, 5, 0f)), 1);
            assertThat(Tensors.shape(list.tensors())).containsExactly(2, 1, 3, 5);
        }
    }

    @Test
    void refusesMixedChannelsAndEmptyBatches() {
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> ImageList.pad(List.of(ramp(3, 2, 2, 0f), ramp(1, 2, 2, 0f)), 32))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("channels");
            assertThatThrownBy(() -> ImageList.pad(List.of(), 32))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one");
        }
    }
}
