package dev.frcnn.train;

import dev.frcnn.config.Config;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.ImageList;
import dev.frcnn.model.backbone.VGG16Backbone;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code batch_size} with images of two sizes: what padding changes and what it does not.
 *
 * <ul>
 *   <li>Images never mix: every layer of the backbones, the RPN and the head works on each image of the batch
 *       alone, so the largest image, which the batch does not pad (its size a multiple of the stride), gets its
 *       single-image losses and proposals.</li>
 *   <li>A padded image keeps its own anchors (its own feature cells), its own anchor targets (inside-image rule of its
 *       own size) and proposals clipped to its own size.</li>
 *   <li>Its features: the batch's zero padding is exactly the zero padding its first convolution adds alone, but
 *       deeper layers see the padded region's activations where the single image sees zeros. So the honest
 *       invariant, for a backbone of convolutions and pools (VGG16), is that the feature cells whose receptive field
 *       lies inside the image are unchanged, and the cells at the bottom/right border do change. (GroupNorm, in the
 *       demo's backbone and ResNet's {@code norm=group_norm}, takes its statistics over the whole padded map, so
 *       there every cell of a padded image changes a little: {@code docs/training.md}.)</li>
 * </ul>
 * Tolerances: float32 rounding of convolutions on batches of different sizes, as {@link BatchStepTest}.
 */
class BatchPaddingTest {
    private static final List<String> CLASSES = List.of("a", "b");

    private static Tensor image(long seed, int h, int w) {
        torch.manual_seed(seed);
        return torch.randn(3, h, w);
    }

    @Test
    void aPaddedImageKeepsItsOwnAnchorsTargetsAndClippingAndTheUnpaddedOneItsLosses() {
        try (PointerScope s = new PointerScope()) {
            Config cfg = TinyModels.config(TinyModels.Size.SMALL);
            FasterRCNN model = TinyModels.randomDetector(cfg, CLASSES);
            model.train(true);
            FasterRCNNTrainer trainer = new FasterRCNNTrainer(model, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(),
                    cfg.weightDecay(), false, Sampler.firstN(), cfg.roiNSample());
            Tensor big = image(21, 96, 128), small = image(22, 70, 90);
            Tensor bigBox = Tensors.fromFloats(new float[]{10, 12, 50, 60, 40, 50, 90, 120}, 2, 4);
            Tensor smallBox = Tensors.fromFloats(new float[]{5, 8, 45, 60, 30, 40, 68, 88}, 2, 4);
            Tensor bigLabel = Tensors.fromLongs(new long[]{0, 1}, 2), smallLabel = Tensors.fromLongs(new long[]{1, 0}, 2);

            FasterRCNNTrainer.Trace bigAlone = trainer.trace(big.unsqueeze(0), bigBox, bigLabel, 1.0);
            FasterRCNNTrainer.Trace smallAlone = trainer.trace(small.unsqueeze(0), smallBox, smallLabel, 1.0);
            FasterRCNNTrainer.BatchTrace b = trainer.traceBatch(List.of(big, small), List.of(bigBox, smallBox),
                    List.of(bigLabel, smallLabel), new double[]{1.0, 1.0});

            // the batch: padded bottom/right with zeros to the largest size rounded up to the stride (16)
            Tensor batch = b.batch().tensors();
            assertThat(Tensors.shape(batch)).containsExactly(2, 3, 96, 128);
            assertThat(batch.get(1).narrow(1, 0, 70).narrow(2, 0, 90).equal(small)).isTrue();
            assertThat(batch.get(1).narrow(1, 70, 26).abs().max().item_double()).isZero();
            assertThat(batch.get(1).narrow(2, 90, 38).abs().max().item_double()).isZero();

            // the unpadded image: its single-image losses and proposals
            FasterRCNNTrainer.Trace bigInBatch = b.images().get(0);
            double[] alone = bigAlone.losses().values(), inBatch = bigInBatch.losses().values();
            for (int k = 0; k < 5; k++) {
                assertThat(inBatch[k]).as(FasterRCNNTrainer.Losses.NAMES.get(k)).isCloseTo(alone[k], within(1e-5 * Math.abs(alone[k])));
            }
            assertThat(Tensors.shape(bigInBatch.rpn().rois())).isEqualTo(Tensors.shape(bigAlone.rpn().rois()));
            assertThat(bigInBatch.rpn().rois().sub(bigAlone.rpn().rois()).abs().max().item_double()).isLessThan(1e-3);

            // the padded image: its own 4 x 5 cells (70 / 16, 90 / 16 floored by the pools), not the batch's 6 x 8
            FasterRCNNTrainer.Trace smallInBatch = b.images().get(1);
            long anchors = 4 * 5 * model.rpn().nAnchor();
            assertThat(Tensors.shape(smallAlone.rpn().anchor())).containsExactly(anchors, 4);
            assertThat(smallInBatch.rpn().anchor().equal(smallAlone.rpn().anchor())).isTrue();
            assertThat(Tensors.shape(smallInBatch.rpn().rpnLocs())).containsExactly(1, anchors, 4);
            assertThat(Tensors.shape(smallInBatch.rpn().rpnScores())).containsExactly(1, anchors, 2);
            // anchor targets depend on the anchors, the boxes and the image's own size only: exactly the single ones
            assertThat(smallInBatch.rpnTargets().label().equal(smallAlone.rpnTargets().label())).isTrue();
            assertThat(smallInBatch.rpnTargets().loc().sub(smallAlone.rpnTargets().loc()).abs().max().item_double()).isZero();
            // proposals clipped to its own 70 x 90, not to the padded 96 x 128, and marked with its batch index
            Tensor rois = smallInBatch.rpn().rois();
            assertThat(rois.size(0)).isPositive();
            assertThat(rois.select(1, 2).max().item_double()).isLessThanOrEqualTo(70.0);
            assertThat(rois.select(1, 3).max().item_double()).isLessThanOrEqualTo(90.0);
            assertThat(smallInBatch.rpn().roiIndices().eq(new Scalar(1L)).all().item_bool()).isTrue();
            // the batch's loss is the mean of the two images' own
            double[] mean = b.losses().values(), small2 = smallInBatch.losses().values();
            for (int k = 0; k < 5; k++) {
                assertThat(mean[k]).isCloseTo((inBatch[k] + small2[k]) / 2, within(1e-6 * Math.abs(mean[k]) + 1e-9));
            }
        }
    }

    /**
     * VGG16's conv5_3 (stride 16) has a receptive field of 196 pixels starting 90 pixels before its cell (13 3x3
     * convolutions with padding 1 and four 2x2 pools): cell {@code y} sees input rows {@code 16y - 90 .. 16y + 105}.
     * The rows above 0 are zero padding in both paths; the rows at or past the image's height are zeros alone but
     * the padded region's activations in the batch. So cells with {@code 16y + 105 < H} (and likewise in x) are
     * unchanged by the padding.
     */
    @Test
    void paddingChangesNoFeatureCellWhoseReceptiveFieldLiesInsideTheImage() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            torch.manual_seed(0);
            VGG16Backbone vgg = new VGG16Backbone(false);
            vgg.extractor().train(false);
            Tensor big = image(31, 256, 320), small = image(32, 192, 256);
            ImageList batch = ImageList.pad(List.of(big, small), vgg.featureStride());
            assertThat(Tensors.shape(batch.tensors())).containsExactly(2, 3, 256, 320);
            Tensor inBatch = vgg.extract(batch.tensors());
            Tensor bigAlone = vgg.extract(big.unsqueeze(0)), smallAlone = vgg.extract(small.unsqueeze(0));
            assertThat(Tensors.shape(smallAlone)).containsExactly(1, 512, 12, 16);

            double bigScale = bigAlone.abs().max().item_double();
            assertThat(bigScale).isPositive();
            assertThat(inBatch.get(0).sub(bigAlone.get(0)).abs().max().item_double()).as("the unpadded image")
                    .isLessThanOrEqualTo(1e-4 * bigScale);

            int insideRows = (192 - 106) / 16 + 1, insideCols = (256 - 106) / 16 + 1; // 6 x 10 of 12 x 16
            Tensor mine = inBatch.get(1).narrow(1, 0, insideRows).narrow(2, 0, insideCols);
            Tensor alone = smallAlone.get(0).narrow(1, 0, insideRows).narrow(2, 0, insideCols);
            double scale = alone.abs().max().item_double();
            assertThat(scale).isPositive();
            assertThat(mine.sub(alone).abs().max().item_double()).as("cells whose receptive field is inside")
                    .isLessThanOrEqualTo(1e-4 * scale);
            // the border cells do see the padding: the invariant is the receptive field, not the whole image
            Tensor lastRow = inBatch.get(1).narrow(1, 11, 1).narrow(2, 0, 16);
            Tensor lastRowAlone = smallAlone.get(0).narrow(1, 11, 1);
            assertThat(lastRow.sub(lastRowAlone).abs().max().item_double()).as("bottom row")
                    .isGreaterThan(1e-2 * scale);
        }
    }
}
