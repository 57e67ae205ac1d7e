package dev.frcnn.model.rpn;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.arange;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.stack;

/**
 * torchvision's multi-level anchor generator ({@code torchvision.models.detection.anchor_utils.AnchorGenerator},
 * 0.14): for each feature level, a set of base anchors (sizes x aspect ratios) centred on 0, shifted to every cell of
 * that level's grid.
 *
 * <p>Semantics, as torchvision (not the reference's {@code generate_anchor_base}/{@code _enumerate_shifted_anchor},
 * which centre anchors on the cell's middle and use {@code (ymin, xmin, ymax, xmax)}):
 * <ul>
 *   <li>Base anchors of a level, float32: {@code hr = sqrt(ratio)}, {@code wr = 1 / hr}, {@code ws = wr * size},
 *       {@code hs = hr * size} (row {@code r * sizes + s} for ratio r and size s), then
 *       {@code round([-ws, -hs, ws, hs] / 2)} with round half to even.</li>
 *   <li>{@code stride = paddedSize // gridSize} per axis (integer division) and the cell {@code (y, x)} shifts the
 *       base anchors by {@code (x * strideW, y * strideH, x * strideW, y * strideH)}: the cell's top-left corner,
 *       not its centre.</li>
 *   <li>Order (level, y, x, anchor); boxes {@code (x1, y1, x2, y2)} in pixels of the padded batch, float32. The same
 *       anchors serve every image of the batch (anchors over another image's padding included).</li>
 * </ul>
 * Immutable and thread-safe.
 */
public final class AnchorGenerator {
    private final double[][] sizes;
    private final double[][] aspectRatios;
    private final float[][] cellAnchors;

    /**
     * A generator; mirrors {@code AnchorGenerator(sizes, aspect_ratios)}.
     *
     * @param sizes per level the anchor sizes (sides of the square anchor of ratio 1) in pixels, each {@code > 0}
     * @param aspectRatios per level the height/width ratios, each {@code > 0}; as many levels as {@code sizes}
     * @throws IllegalArgumentException if the level counts differ, a level is empty or a value is not positive
     */
    public AnchorGenerator(double[][] sizes, double[][] aspectRatios) {
        if (sizes == null || aspectRatios == null || sizes.length != aspectRatios.length || sizes.length == 0) {
            throw new IllegalArgumentException("AnchorGenerator needs as many levels of sizes as of aspect ratios (at least one), got "
                    + (sizes == null ? "null" : sizes.length) + " and " + (aspectRatios == null ? "null" : aspectRatios.length));
        }
        this.sizes = new double[sizes.length][];
        this.aspectRatios = new double[sizes.length][];
        this.cellAnchors = new float[sizes.length][];
        for (int l = 0; l < sizes.length; l++) {
            this.sizes[l] = checkedPositive(sizes[l], "sizes", l);
            this.aspectRatios[l] = checkedPositive(aspectRatios[l], "aspect ratios", l);
            this.cellAnchors[l] = baseAnchors(this.sizes[l], this.aspectRatios[l]);
        }
    }

    /**
     * torchvision's generator of {@code fasterrcnn_resnet50_fpn} ({@code _default_anchorgen}): sizes
     * {@code (32), (64), (128), (256), (512)} over five levels, each with ratios {@code (0.5, 1, 2)}.
     *
     * @return the generator
     */
    public static AnchorGenerator resnet50Fpn() {
        double[][] sizes = {{32}, {64}, {128}, {256}, {512}};
        double[][] ratios = new double[5][];
        Arrays.fill(ratios, new double[]{0.5, 1.0, 2.0});
        return new AnchorGenerator(sizes, ratios);
    }

    /** @return the number of feature levels */
    public int numLevels() {
        return sizes.length;
    }

    /**
     * Anchors per cell of each level; mirrors {@code num_anchors_per_location()}.
     *
     * @return per level {@code sizes * aspect ratios}
     */
    public int[] numAnchorsPerLocation() {
        int[] out = new int[sizes.length];
        for (int l = 0; l < out.length; l++) out[l] = sizes[l].length * aspectRatios[l].length;
        return out;
    }

    /**
     * The base anchors of one level; mirrors {@code generate_anchors(scales, aspect_ratios)}.
     *
     * @param level the level, {@code 0 <= level < numLevels()}
     * @return (A, 4) float32 CPU tensor, boxes {@code (x1, y1, x2, y2)} centred on (0, 0)
     * @throws IndexOutOfBoundsException if the level does not exist
     */
    public Tensor cellAnchors(int level) {
        float[] base = cellAnchors[level];
        return Tensors.fromFloats(base, base.length / 4, 4);
    }

    /**
     * The stride of one level: {@code paddedSize // gridSize} per axis, as torchvision's {@code forward}.
     *
     * @param paddedHeight height of the padded batch in pixels
     * @param paddedWidth width of the padded batch in pixels
     * @param gridSize the level's feature map {@code {height, width}} in cells, each {@code > 0}
     * @return {@code {strideHeight, strideWidth}}
     * @throws IllegalArgumentException if the grid size is not two positive numbers
     */
    public static long[] stride(long paddedHeight, long paddedWidth, long[] gridSize) {
        if (gridSize == null || gridSize.length != 2 || gridSize[0] <= 0 || gridSize[1] <= 0) {
            throw new IllegalArgumentException("a grid size must be {height, width} > 0, got " + Arrays.toString(gridSize));
        }
        return new long[]{Math.floorDiv(paddedHeight, gridSize[0]), Math.floorDiv(paddedWidth, gridSize[1])};
    }

    /**
     * The anchors of each level; mirrors {@code grid_anchors(grid_sizes, strides)} with torchvision's strides.
     *
     * @param paddedHeight height of the padded batch ({@code ImageList.tensors}) in pixels, {@code > 0}
     * @param paddedWidth width of the padded batch in pixels, {@code > 0}
     * @param gridSizes per level the feature map {@code {height, width}} in cells, one per level
     * @param device where the anchors are made
     * @return per level a (H*W*A, 4) float32 tensor on {@code device}, rows in (y, x, anchor) order, boxes
     *     {@code (x1, y1, x2, y2)} in pixels
     * @throws IllegalArgumentException if the number of grid sizes is not {@link #numLevels()} or a size is not
     *     positive
     */
    public List<Tensor> gridAnchors(long paddedHeight, long paddedWidth, List<long[]> gridSizes, Device device) {
        if (paddedHeight <= 0 || paddedWidth <= 0) {
            throw new IllegalArgumentException("the padded size must be positive, got " + paddedHeight + "x" + paddedWidth);
        }
        if (gridSizes.size() != sizes.length) {
            throw new IllegalArgumentException("AnchorGenerator has " + sizes.length + " levels of sizes and aspect ratios but got "
                    + gridSizes.size() + " feature maps; they must match");
        }
        TensorOptions longs = new TensorOptions(device).dtype(new org.bytedeco.pytorch.ScalarTypeOptional(ScalarType.Long));
        List<Tensor> out = new ArrayList<>(sizes.length);
        for (int l = 0; l < sizes.length; l++) {
            long[] grid = gridSizes.get(l);
            long[] stride = stride(paddedHeight, paddedWidth, grid);
            Tensor shiftsX = arange(new Scalar(grid[1]), longs).mul(new Scalar(stride[1]));
            Tensor shiftsY = arange(new Scalar(grid[0]), longs).mul(new Scalar(stride[0]));
            // meshgrid(shifts_y, shifts_x, indexing="ij") raveled: row k = y * W + x.
            Tensor shiftY = shiftsY.view(grid[0], 1).expand(grid[0], grid[1]).reshape(-1);
            Tensor shiftX = shiftsX.view(1, grid[1]).expand(grid[0], grid[1]).reshape(-1);
            Tensor shifts = stack(new TensorVector(shiftX, shiftY, shiftX, shiftY), 1).to(ScalarType.Float);
            Tensor base = cellAnchors(l).to(device, ScalarType.Float);
            out.add(shifts.view(-1, 1, 4).add(base.view(1, -1, 4)).reshape(-1, 4));
        }
        return out;
    }

    /**
     * All anchors of a padded batch, the levels concatenated; what torchvision's {@code forward} returns for each
     * image.
     *
     * @param paddedHeight height of the padded batch in pixels, {@code > 0}
     * @param paddedWidth width of the padded batch in pixels, {@code > 0}
     * @param gridSizes per level the feature map {@code {height, width}} in cells
     * @param device where the anchors are made
     * @return (sum over levels of H*W*A, 4) float32 on {@code device}, order (level, y, x, anchor), boxes
     *     {@code (x1, y1, x2, y2)} in pixels of the padded batch
     * @throws IllegalArgumentException as {@link #gridAnchors}
     */
    public Tensor anchors(long paddedHeight, long paddedWidth, List<long[]> gridSizes, Device device) {
        return cat(new TensorVector(gridAnchors(paddedHeight, paddedWidth, gridSizes, device).toArray(new Tensor[0])), 0);
    }

    /**
     * All anchors for the given feature maps; mirrors {@code AnchorGenerator.forward(image_list, feature_maps)} for
     * one image (every image of the batch gets the same anchors). The grid sizes are the maps' last two dimensions,
     * the device that of the first map; the anchors are float32 whatever the maps' dtype.
     *
     * @param paddedHeight height of the padded batch in pixels
     * @param paddedWidth width of the padded batch in pixels
     * @param featureMaps per level a (N, C, H, W) feature map, at least one
     * @return as {@link #anchors(long, long, List, Device)}
     * @throws IllegalArgumentException if a map is not 4-D or the count differs from {@link #numLevels()}
     */
    public Tensor anchors(long paddedHeight, long paddedWidth, List<Tensor> featureMaps) {
        if (featureMaps.isEmpty()) throw new IllegalArgumentException("AnchorGenerator needs at least one feature map");
        List<long[]> grids = new ArrayList<>(featureMaps.size());
        for (Tensor f : featureMaps) {
            if (f.dim() != 4) {
                throw new IllegalArgumentException("a feature map must be (N, C, H, W), got " + Tensors.shapeString(f));
            }
            grids.add(new long[]{f.size(2), f.size(3)});
        }
        return anchors(paddedHeight, paddedWidth, grids, featureMaps.get(0).device());
    }

    /** Base anchors in float32 exactly as torchvision's {@code generate_anchors} (float32 tensors, torch.round). */
    private static float[] baseAnchors(double[] scales, double[] ratios) {
        float[] out = new float[ratios.length * scales.length * 4];
        int row = 0;
        for (double ratio : ratios) {
            float hRatio = (float) Math.sqrt((float) ratio);   // correctly rounded float32 sqrt
            float wRatio = 1f / hRatio;
            for (double scale : scales) {
                float ws = wRatio * (float) scale;
                float hs = hRatio * (float) scale;
                out[row * 4] = (float) Math.rint(-ws / 2f);     // round half to even, as torch.round
                out[row * 4 + 1] = (float) Math.rint(-hs / 2f);
                out[row * 4 + 2] = (float) Math.rint(ws / 2f);
                out[row * 4 + 3] = (float) Math.rint(hs / 2f);
                row++;
            }
        }
        return out;
    }

    private static double[] checkedPositive(double[] values, String what, int level) {
        if (values == null || values.length == 0) {
            throw new IllegalArgumentException("AnchorGenerator: level " + level + " has no " + what);
        }
        for (double v : values) {
            if (!(v > 0) || !Double.isFinite(v)) {
                throw new IllegalArgumentException("AnchorGenerator: " + what + " of level " + level
                        + " must be finite and > 0, got " + Arrays.toString(values));
            }
        }
        return values.clone();
    }

    @Override
    public String toString() {
        return "AnchorGenerator(sizes=" + Arrays.deepToString(sizes) + ", aspect_ratios=" + Arrays.deepToString(aspectRatios) + ")";
    }
}
