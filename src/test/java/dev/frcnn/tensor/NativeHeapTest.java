package dev.frcnn.tensor;

import dev.frcnn.bench.ModelBench;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.ones;

class NativeHeapTest {
    /** Surefire runs the tests with bin/frcnn's malloc settings, under which the periodic trims are on. */
    @Test
    void trimsPeriodicallyUnderTheSettingsOfBinFrcnn() {
        assertThat(System.getenv("MALLOC_MMAP_MAX_")).isEqualTo("0");
        assertThat(NativeHeap.trimsPeriodically()).isTrue();
    }

    /** With MALLOC_MMAP_MAX_=0 a freed 400 MB tensor stays resident until the heap is trimmed. */
    @Test
    void aTrimGivesFreedTensorMemoryBack() {
        try (Tensor warm = ones(1024)) {   // LibTorch's first use maps code and state that stays resident
            warm.sum().item_double();
        }
        NativeHeap.trim();
        double before = ModelBench.rssMb();
        Tensor big = ones(100L * 1024 * 1024);   // 400 MiB of float32, every page written
        assertThat(big.sum().item_double()).isEqualTo(100.0 * 1024 * 1024);
        big.close();
        double freed = ModelBench.rssMb();
        assertThat(freed - before).as("RSS kept after freeing (MB)").isGreaterThan(300);
        assertThat(NativeHeap.trim()).isTrue();
        assertThat(ModelBench.rssMb() - before).as("RSS kept after the trim (MB)").isLessThan(50);
    }
}
