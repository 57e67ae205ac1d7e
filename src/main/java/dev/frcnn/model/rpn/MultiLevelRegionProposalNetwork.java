package dev.frcnn.model.rpn;

import dev.frcnn.model.utils.BoxCoder;
import dev.frcnn.model.utils.BoxOps;
import dev.frcnn.ops.BatchedNms;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.sigmoid;

/**
 * torchvision 0.14's {@code RegionProposalNetwork} over several feature levels (the FPN's), for inference: the
 * shared {@link RPNHead} on every level, anchors per level ({@link AnchorGenerator}), decoding of the deltas against the anchors
 * ({@link BoxCoder} weights (1, 1, 1, 1), dw/dh clamped at log(1000/16)), and {@code filter_proposals}:
 * <ol>
 *   <li>per level, the {@code min(pre_nms_top_n, level size)} largest objectness logits (topk);</li>
 *   <li>per image: {@code sigmoid} scores, boxes clipped to the image's resized (not padded) size, boxes with a
 *       side below {@code min_size} dropped, scores below {@code score_thresh} dropped;</li>
 *   <li>NMS per level ({@link BatchedNms}, the level as the category), the result sorted by score over all levels,
 *       the first {@code post_nms_top_n} kept.</li>
 * </ol>
 * The pre/post-NMS counts are the training ones when the module is in training mode, the test ones otherwise.
 * Boxes are torchvision's (x1, y1, x2, y2) pixels of the resized image.
 *
 * <p>This is the multi-level RPN beside the reference family's single-map {@link RegionProposalNetwork}; the two
 * share nothing but the idea.
 */
public final class MultiLevelRegionProposalNetwork extends Module {
    /**
     * The RPN's filter settings (torchvision's {@code rpn_*} arguments of {@code FasterRCNN}).
     *
     * @param preNmsTopNTrain per-level top-n before NMS in training (2000)
     * @param preNmsTopNTest per-level top-n before NMS in evaluation (1000)
     * @param postNmsTopNTrain proposals kept per image in training (2000)
     * @param postNmsTopNTest proposals kept per image in evaluation (1000)
     * @param nmsThresh IoU threshold of the per-level NMS (0.7)
     * @param scoreThresh smallest sigmoid score kept (0.0)
     * @param minSize smallest box side kept, in resized-image pixels (1e-3)
     */
    public record Settings(long preNmsTopNTrain, long preNmsTopNTest, long postNmsTopNTrain, long postNmsTopNTest,
                           double nmsThresh, double scoreThresh, double minSize) {
        /** torchvision's defaults. */
        public static final Settings DEFAULTS = new Settings(2000, 1000, 2000, 1000, 0.7, 0.0, 1e-3);
    }

    /**
     * One image's proposals, by decreasing score.
     *
     * @param boxes (K, 4) float32 (x1, y1, x2, y2) in resized-image pixels
     * @param scores (K,) float32 sigmoid of the objectness logit
     * @param levels (K,) int64 feature level of each proposal
     * @param anchorIndex (K,) int64 index of the source anchor in the concatenated anchors (level, y, x, a)
     */
    public record Proposals(Tensor boxes, Tensor scores, Tensor levels, Tensor anchorIndex) {}

    /**
     * Everything the RPN computes for a batch.
     *
     * @param proposals one entry per image
     * @param anchors (A, 4) float32 anchors of one image in (level, y, x, a) order (the same for every image of a
     *     padded batch)
     * @param anchorsPerLevel the number of anchors of each level
     * @param objectness (N, A) float32 logits in anchor order
     * @param deltas (N, A, 4) float32 {@code (dx, dy, dw, dh)} in anchor order
     */
    public record Output(List<Proposals> proposals, Tensor anchors, long[] anchorsPerLevel, Tensor objectness,
                         Tensor deltas) {}

    private final RPNHead head;
    private final AnchorGenerator anchorGenerator;
    private final BoxCoder boxCoder = new BoxCoder(1.0, 1.0, 1.0, 1.0);
    private final Settings settings;

    /**
     * @param head the shared head (registered as {@code head})
     * @param anchorGenerator the anchors per level (torchvision's {@link AnchorGenerator#resnet50Fpn()})
     * @param settings the filter settings
     * @throws IllegalArgumentException if the head's anchors per location differ from the generator's on some level
     */
    public MultiLevelRegionProposalNetwork(RPNHead head, AnchorGenerator anchorGenerator, Settings settings) {
        super("RegionProposalNetwork");
        for (int a : anchorGenerator.numAnchorsPerLocation()) {
            if (a != head.numAnchors()) {
                throw new IllegalArgumentException("the head predicts " + head.numAnchors() + " anchors per location, "
                        + "the anchor generator " + a + " on some level");
            }
        }
        this.head = register_module("head", head);
        this.anchorGenerator = anchorGenerator;
        this.settings = settings;
    }

    /** The shared head. */
    public RPNHead head() { return head; }

    /** The filter settings. */
    public Settings settings() { return settings; }

    /** The anchor generator. */
    public AnchorGenerator anchorGenerator() { return anchorGenerator; }

    /** The box coder of the deltas (weights 1, 1, 1, 1). */
    public BoxCoder boxCoder() { return boxCoder; }

    /**
     * @param images the padded batch (N, C, Hp, Wp) (only its size is used)
     * @param imageSizes each image's resized (unpadded) {height, width} in pixels
     * @param features the feature levels (N, C, H_l, W_l) float32, one per anchor size entry
     * @return proposals per image and the intermediate tensors
     */
    public Output forward(Tensor images, List<long[]> imageSizes, List<Tensor> features) {
        RPNHead.Output out = head.forward(features);
        long n = images.size(0);
        Tensor anchors = anchorGenerator.anchors(images.size(2), images.size(3), features);
        long[] perLevel = new long[features.size()];
        for (int l = 0; l < perLevel.length; l++) {
            perLevel[l] = features.get(l).size(2) * features.get(l).size(3) * head.numAnchors();
        }
        Tensor[] flat = concatBoxPredictionLayers(out.objectness(), out.deltas());
        Tensor objectness = flat[0];
        Tensor deltas = flat[1];
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor boxes = boxCoder.decodeSingle(deltas.detach().reshape(-1, 4), anchors.repeat(n, 1)).view(n, -1, 4);
            List<Proposals> proposals = filterProposals(boxes, objectness.detach(), imageSizes, perLevel);
            return new Output(proposals, anchors, perLevel, objectness, deltas);
        }
    }

    /**
     * torchvision's {@code concat_box_prediction_layers}: each level's (N, A, H, W) logits and (N, 4A, H, W) deltas
     * into anchor order (level, y, x, a).
     *
     * @return {(N, total) logits, (N, total, 4) deltas}
     */
    public static Tensor[] concatBoxPredictionLayers(List<Tensor> objectness, List<Tensor> deltas) {
        TensorVector cls = new TensorVector();
        TensorVector reg = new TensorVector();
        for (int l = 0; l < objectness.size(); l++) {
            Tensor o = objectness.get(l);
            long n = o.size(0), a = o.size(1), h = o.size(2), w = o.size(3);
            cls.push_back(o.view(n, a, 1, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1));
            reg.push_back(deltas.get(l).view(n, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4));
        }
        return new Tensor[]{cat(cls, 1), cat(reg, 1)};
    }

    /**
     * The per-level top-n of {@code filter_proposals}: for each image, the indices (into the concatenated anchors)
     * of the {@code min(pre_nms_top_n, level size)} largest logits of each level, level blocks in order, each by
     * decreasing logit.
     *
     * @param objectness (N, total) float32 logits
     * @param anchorsPerLevel anchors of each level
     * @return (N, K) int64
     */
    public Tensor topNIndices(Tensor objectness, long[] anchorsPerLevel) {
        long preNms = is_training() ? settings.preNmsTopNTrain() : settings.preNmsTopNTest();
        TensorVector r = new TensorVector();
        long offset = 0;
        for (long count : anchorsPerLevel) {
            Tensor ob = objectness.narrow(1, offset, count);
            long k = Math.min(preNms, count);
            Tensor idx = ob.topk(k, 1, true, true).get1();
            r.push_back(idx.add(new Scalar(offset)));
            offset += count;
        }
        return cat(r, 1);
    }

    /**
     * torchvision's {@code filter_proposals}.
     *
     * @param boxes (N, total, 4) float32 decoded boxes (not clipped)
     * @param objectness (N, total) float32 logits
     * @param imageSizes each image's resized {height, width}
     * @param anchorsPerLevel anchors of each level
     * @return the proposals of each image
     */
    public List<Proposals> filterProposals(Tensor boxes, Tensor objectness, List<long[]> imageSizes,
                                           long[] anchorsPerLevel) {
        long n = boxes.size(0);
        long[] levelOf = new long[(int) Arrays.stream(anchorsPerLevel).sum()];
        int at = 0;
        for (int l = 0; l < anchorsPerLevel.length; l++) {
            for (long j = 0; j < anchorsPerLevel[l]; j++) levelOf[at++] = l;
        }
        Tensor levels = dev.frcnn.tensor.Tensors.fromLongs(levelOf, levelOf.length).to(boxes.device(), ScalarType.Long);
        Tensor top = topNIndices(objectness, anchorsPerLevel);
        List<Proposals> out = new ArrayList<>((int) n);
        for (int i = 0; i < n; i++) {
            Tensor idx = top.get(i);
            out.add(filterImage(boxes.get(i).index_select(0, idx), objectness.get(i).index_select(0, idx),
                    levels.index_select(0, idx), idx, imageSizes.get(i)));
        }
        return out;
    }

    /**
     * The per-image part of {@code filter_proposals}, from the pre-NMS top-n: sigmoid, clip to the resized image,
     * remove small boxes, score threshold, NMS per level, first {@code post_nms_top_n}.
     *
     * @param boxes (K, 4) float32 decoded boxes of the top-n anchors
     * @param logits (K,) float32 their objectness logits
     * @param levels (K,) int64 their levels
     * @param anchorIndex (K,) int64 their anchor indices
     * @param imageSize the image's resized {height, width} (clip bounds)
     * @return the image's proposals, by decreasing score
     */
    public Proposals filterImage(Tensor boxes, Tensor logits, Tensor levels, Tensor anchorIndex,
                                 long[] imageSize) {
        long postNms = is_training() ? settings.postNmsTopNTrain() : settings.postNmsTopNTest();
        Tensor scores = sigmoid(logits);
        Tensor b = BoxOps.clipBoxesToImage(boxes, imageSize[0], imageSize[1]);
        Tensor keep = BoxOps.removeSmallBoxes(b, settings.minSize());
        b = b.index_select(0, keep);
        scores = scores.index_select(0, keep);
        Tensor lvl = levels.index_select(0, keep);
        Tensor src = anchorIndex.index_select(0, keep);
        keep = scores.ge(new Scalar(settings.scoreThresh())).nonzero().reshape(-1);
        b = b.index_select(0, keep);
        scores = scores.index_select(0, keep);
        lvl = lvl.index_select(0, keep);
        src = src.index_select(0, keep);
        keep = BatchedNms.batchedNms(b, scores, lvl, settings.nmsThresh());
        if (keep.size(0) > postNms) keep = keep.narrow(0, 0, postNms);
        return new Proposals(b.index_select(0, keep), scores.index_select(0, keep), lvl.index_select(0, keep),
                src.index_select(0, keep));
    }
}
