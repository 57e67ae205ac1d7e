package dev.frcnn.testing;

import java.util.List;

/**
 * The feature grid sizes of torchvision's ResNet-50 FPN for a padded batch, by convolution arithmetic
 * ({@code out = floor((in + 2 * pad - kernel) / stride) + 1}): conv1 (7x7, stride 2, pad 3), max pool (3x3, stride 2,
 * pad 1) gives level '0' (stride 4), then layer2, layer3, layer4 each halve with a 3x3 stride-2 pad-1 convolution
 * (levels '1' to '3'), and 'pool' is {@code max_pool2d(P5, 1, 2)}. Lets the tests that need anchors for a padded batch
 * run without the backbone.
 */
public final class FpnGridSizes {
    private FpnGridSizes() {}

    /**
     * @param paddedHeight padded batch height in pixels
     * @param paddedWidth padded batch width in pixels
     * @return the five levels' {@code {height, width}}: '0', '1', '2', '3', 'pool'
     */
    public static List<long[]> of(long paddedHeight, long paddedWidth) {
        long h = conv(conv(paddedHeight, 7, 2, 3), 3, 2, 1);
        long w = conv(conv(paddedWidth, 7, 2, 3), 3, 2, 1);
        long[][] levels = new long[5][];
        levels[0] = new long[]{h, w};
        for (int l = 1; l < 4; l++) {
            h = conv(h, 3, 2, 1);
            w = conv(w, 3, 2, 1);
            levels[l] = new long[]{h, w};
        }
        levels[4] = new long[]{conv(h, 1, 2, 0), conv(w, 1, 2, 0)};
        return List.of(levels);
    }

    private static long conv(long in, int kernel, int stride, int pad) {
        return Math.floorDiv(in + 2L * pad - kernel, stride) + 1;
    }
}
