package dev.frcnn.testing;

import dev.frcnn.tensor.NativeLibraries;
import dev.frcnn.tensor.PrimitiveCache;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Goes through the bootstrap ({@link NativeLibraries#ensureExtracted()}), prints the primitive-cache variables as C
 * code sees them ({@code env <NAME>=<value or null>}), then, with the argument {@code conv}, runs a float32
 * 3 x 3 convolution (64 channels, which LibTorch hands to oneDNN) once at height 31 (a warm-up), then at
 * {@code sizes} input sizes of height 32, twice over, and prints {@code done}. Used by {@code PrimitiveCacheTest}
 * in a child JVM, whose oneDNN prints its primitive creations when {@code ONEDNN_VERBOSE=profile_create}.
 */
public final class PrimitiveCacheProbe {
    private PrimitiveCacheProbe() {}

    public static void main(String[] args) {
        NativeLibraries.ensureExtracted();
        for (String name : new String[]{"ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY"}) {
            System.out.println("env " + name + "=" + PrimitiveCache.getenv(name));
        }
        if (args.length > 0 && args[0].equals("conv")) {
            int sizes = Integer.parseInt(args[1]);
            TensorOptions f32 = new TensorOptions(ScalarType.Float);
            Tensor w = torch.randn(new long[]{64, 64, 3, 3}, f32);
            // Warm-up at another height (31): LibTorch sets its intra-op thread count lazily, around the first
            // operation, and oneDNN keys primitives by thread count; where LibTorch's default differs from OpenMP's
            // (1 against 2 on a VM that hides its CPU topology) the first primitive would be compiled twice.
            torch.conv2d(torch.randn(new long[]{1, 64, 31, 31}, f32), w).sum().item_double();
            for (int round = 0; round < 2; round++) {
                for (int s = 0; s < sizes; s++) {
                    Tensor x = torch.randn(new long[]{1, 64, 32, 32 + s}, f32);
                    torch.conv2d(x, w).sum().item_double();
                }
            }
            System.out.println("done");
        }
        System.out.flush();
    }
}
