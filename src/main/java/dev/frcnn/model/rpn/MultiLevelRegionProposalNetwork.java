package dev.frcnn.model.rpn;

import dev.frcnn.model.utils.BoxOps;
import dev.frcnn.ops.BatchedNms;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.sigmoid;
import static org.bytedeco.pytorch.global.torch.stack;

/**
 * torchvision 0.14's {@code RegionProposalNetwork} over several feature levels (the FPN's), for inference: the
 * shared {@link RPNHead} on every level, anchors per level, decoding of the deltas against the anchors
 * ({@code BoxCoder} weights (1, 1, 1, 1), dw/dh clamped at log(1000/16)), and {@code filter_proposals}:
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
    /** log(1000 / 16): torchvision's {@code bbox_xform_clip}. */
    public static final double BBOX_XFORM_CLIP = Math.log(1000.0 / 16);

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
    private final int[][] anchorSizes;
    private final double[] aspectRatios;
    private final Settings settings;

    /**
     * @param head the shared head (registered as {@code head})
     * @param anchorSizes anchor sizes per level (torchvision: {32}, {64}, {128}, {256}, {512})
     * @param aspectRatios anchor aspect ratios h/w of every level (0.5, 1, 2)
     * @param settings the filter settings
     * @throws IllegalArgumentException if the head's anchors per location differ from sizes x ratios
     */
    public MultiLevelRegionProposalNetwork(RPNHead head, int[][] anchorSizes, double[] aspectRatios, Settings settings) {
        super("RegionProposalNetwork");
        for (int[] s : anchorSizes) {
            if (s.length * aspectRatios.length != head.numAnchors()) {
                throw new IllegalArgumentException("the head predicts " + head.numAnchors() + " anchors per location, "
                        + "the anchor generator has " + s.length + " sizes x " + aspectRatios.length + " ratios");
            }
        }
        this.head = register_module("head", head);
        this.anchorSizes = Arrays.stream(anchorSizes).map(int[]::clone).toArray(int[][]::new);
        this.aspectRatios = aspectRatios.clone();
        this.settings = settings;
    }

    /** The shared head. */
    public RPNHead head() { return head; }

    /** The filter settings. */
    public Settings settings() { return settings; }

    /**
     * @param images the padded batch (N, C, Hp, Wp) (only its size is used)
     * @param imageSizes each image's resized (unpadded) height and width
     * @param features the feature levels (N, C, H_l, W_l) float32, one per anchor size entry
     * @return proposals per image and the intermediate tensors
     */
    public Output forward(Tensor images, List<dev.frcnn.model.ImageSize> imageSizes, List<Tensor> features) {
        RPNHead.Output out = head.forward(features);
        long n = images.size(0);
        Tensor anchors = anchors(features, images.size(2), images.size(3));
        long[] perLevel = new long[features.size()];
        for (int l = 0; l < perLevel.length; l++) {
            perLevel[l] = features.get(l).size(2) * features.get(l).size(3) * head.numAnchors();
        }
        Tensor[] flat = concatBoxPredictionLayers(out.objectness(), out.deltas());
        Tensor objectness = flat[0];
        Tensor deltas = flat[1];
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor boxes = decode(deltas.detach().reshape(-1, 4), anchors.repeat(n, 1), new double[]{1, 1, 1, 1})
                    .view(n, -1, 4);
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
     * @param imageSizes each image's resized size
     * @param anchorsPerLevel anchors of each level
     * @return the proposals of each image
     */
    public List<Proposals> filterProposals(Tensor boxes, Tensor objectness, List<dev.frcnn.model.ImageSize> imageSizes,
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
     * @param imageSize the image's resized size (clip bounds)
     * @return the image's proposals, by decreasing score
     */
    public Proposals filterImage(Tensor boxes, Tensor logits, Tensor levels, Tensor anchorIndex,
                                 dev.frcnn.model.ImageSize imageSize) {
        long postNms = is_training() ? settings.postNmsTopNTrain() : settings.postNmsTopNTest();
        Tensor scores = sigmoid(logits);
        Tensor b = BoxOps.clipBoxesToImage(boxes, imageSize.height(), imageSize.width());
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

    // ------------------------------------------------------------------------------------------------------------
    // Minimal private anchors and decoding (torchvision's AnchorGenerator and det_utils.BoxCoder).

    /**
     * torchvision's {@code AnchorGenerator} for one image of a padded batch: per level, base anchors
     * {@code round([-w, -h, w, h] / 2)} (half to even) for each ratio then size, shifted to {@code (x * stride_w,
     * y * stride_h)} with {@code stride = padded // grid}; order (level, y, x, a).
     *
     * @return (A, 4) float32 (x1, y1, x2, y2), on the features' device
     */
    Tensor anchors(List<Tensor> features, long paddedH, long paddedW) {
        List<float[]> rows = new ArrayList<>();
        int total = 0;
        float[][] perLevel = new float[features.size()][];
        for (int l = 0; l < features.size(); l++) {
            long gh = features.get(l).size(2), gw = features.get(l).size(3);
            long sh = paddedH / gh, sw = paddedW / gw;
            float[] base = baseAnchors(anchorSizes[l], aspectRatios);
            int a = base.length / 4;
            float[] out = new float[(int) (gh * gw * a * 4)];
            int p = 0;
            for (long y = 0; y < gh; y++) {
                for (long x = 0; x < gw; x++) {
                    for (int k = 0; k < a; k++) {
                        out[p++] = x * sw + base[4 * k];
                        out[p++] = y * sh + base[4 * k + 1];
                        out[p++] = x * sw + base[4 * k + 2];
                        out[p++] = y * sh + base[4 * k + 3];
                    }
                }
            }
            perLevel[l] = out;
            total += out.length;
        }
        float[] all = new float[total];
        int p = 0;
        for (float[] f : perLevel) {
            System.arraycopy(f, 0, all, p, f.length);
            p += f.length;
        }
        return dev.frcnn.tensor.Tensors.fromFloats(all, total / 4, 4).to(features.get(0).device(), ScalarType.Float);
    }

    private static float[] baseAnchors(int[] sizes, double[] ratios) {
        float[] out = new float[sizes.length * ratios.length * 4];
        int p = 0;
        for (double r : ratios) {
            float hRatio = (float) Math.sqrt((float) r);
            float wRatio = 1.0f / hRatio;
            for (int s : sizes) {
                float ws = wRatio * s;
                float hs = hRatio * s;
                out[p++] = (float) Math.rint(-ws / 2.0f);
                out[p++] = (float) Math.rint(-hs / 2.0f);
                out[p++] = (float) Math.rint(ws / 2.0f);
                out[p++] = (float) Math.rint(hs / 2.0f);
            }
        }
        return out;
    }

    /**
     * torchvision's {@code BoxCoder.decode_single}: (R, 4K) deltas against (R, 4) boxes.
     *
     * @return (R, 4K) float32 (x1, y1, x2, y2) per group of four
     */
    static Tensor decode(Tensor relCodes, Tensor boxes, double[] weights) {
        long r = relCodes.size(0);
        Tensor codes = relCodes.reshape(r, -1, 4);
        Tensor widths = boxes.select(1, 2).sub(boxes.select(1, 0));
        Tensor heights = boxes.select(1, 3).sub(boxes.select(1, 1));
        Tensor ctrX = boxes.select(1, 0).add(widths.mul(new Scalar(0.5)));
        Tensor ctrY = boxes.select(1, 1).add(heights.mul(new Scalar(0.5)));
        Tensor dx = codes.select(2, 0).div(new Scalar(weights[0]));
        Tensor dy = codes.select(2, 1).div(new Scalar(weights[1]));
        Tensor dw = codes.select(2, 2).div(new Scalar(weights[2]));
        Tensor dh = codes.select(2, 3).div(new Scalar(weights[3]));
        ScalarOptional none = new ScalarOptional();
        dw = dw.clamp(none, new ScalarOptional(new Scalar(BBOX_XFORM_CLIP)));
        dh = dh.clamp(none, new ScalarOptional(new Scalar(BBOX_XFORM_CLIP)));
        Tensor predCtrX = dx.mul(widths.unsqueeze(1)).add(ctrX.unsqueeze(1));
        Tensor predCtrY = dy.mul(heights.unsqueeze(1)).add(ctrY.unsqueeze(1));
        Tensor predW = dw.exp().mul(widths.unsqueeze(1));
        Tensor predH = dh.exp().mul(heights.unsqueeze(1));
        Tensor cH = predH.mul(new Scalar(0.5));
        Tensor cW = predW.mul(new Scalar(0.5));
        return stack(new TensorVector(predCtrX.sub(cW), predCtrY.sub(cH), predCtrX.add(cW), predCtrY.add(cH)), 2)
                .flatten(1, -1);
    }
}
