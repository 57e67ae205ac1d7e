package dev.frcnn.testing;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class GoldenTest {
    @Test
    void readsATensorWithItsShape() {
        Golden g = Golden.load("anchors.json");
        String first = g.tensorNames().next();
        try (PointerScope s = new PointerScope()) {
            Tensor t = g.tensor(first);
            assertThat(t.sizes().vec().get()).containsExactly(g.shape(first));
        }
    }
}
