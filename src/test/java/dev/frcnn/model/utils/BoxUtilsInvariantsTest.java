package dev.frcnn.model.utils;

import dev.frcnn.tensor.Tensors;
import dev.frcnn.train.AnchorTargetCreator;
import dev.frcnn.train.ProposalTargetCreator;
import dev.frcnn.train.Sampler;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Invariants and edge cases of the box tools, samplers and target creators (no fixtures). */
class BoxUtilsInvariantsTest {

    private static Tensor boxes(float... v) {
        return Tensors.fromFloats(v, v.length / 4, 4);
    }

    private static Tensor anchors() {
        Tensor base = BboxTools.generateAnchorBase(16, new double[]{0.5, 1, 2}, new double[]{8, 16, 32});
        return BboxTools.enumerateShiftedAnchor(base, 16, 19, 25);   // a 300 x 400 image
    }

    private static Tensor randomGt(Random r, int k, int h, int w) {
        float[] v = new float[k * 4];
        for (int i = 0; i < k; i++) {
            float y0 = r.nextFloat() * (h - 60), x0 = r.nextFloat() * (w - 60);
            v[i * 4] = y0;
            v[i * 4 + 1] = x0;
            v[i * 4 + 2] = Math.min(h, y0 + 40 + r.nextFloat() * 200);
            v[i * 4 + 3] = Math.min(w, x0 + 40 + r.nextFloat() * 200);
        }
        return Tensors.fromFloats(v, k, 4);
    }

    private static long count(long[] a, long v) {
        return Arrays.stream(a).filter(x -> x == v).count();
    }

    @Test
    void emptyInputsGiveEmptyOutputs() {
        try (PointerScope s = new PointerScope()) {
            Tensor e = boxes();
            assertThat(Tensors.shape(BboxTools.loc2bbox(e, e))).containsExactly(0, 4);
            assertThat(Tensors.shape(BboxTools.bbox2loc(e, e))).containsExactly(0, 4);
            Tensor three = boxes(0, 0, 1, 1, 0, 0, 2, 2, 1, 1, 3, 3);
            assertThat(Tensors.shape(BboxTools.bboxIou(e, three))).containsExactly(0, 3);
            assertThat(Tensors.shape(BboxTools.bboxIou(three, e))).containsExactly(3, 0);
            Tensor base = BboxTools.generateAnchorBase(16, new double[]{1}, new double[]{8});
            assertThat(Tensors.shape(BboxTools.enumerateShiftedAnchor(base, 16, 0, 5))).containsExactly(0, 4);
            assertThat(Tensors.shape(BboxTools.generateAnchorBase(16, new double[0], new double[]{8}))).containsExactly(0, 4);
        }
    }

    @Test
    void wrongShapesAreRejected() {
        try (PointerScope s = new PointerScope()) {
            Tensor bad = Tensors.fromFloats(new float[6], 2, 3);
            Tensor ok = boxes(0, 0, 1, 1, 0, 0, 2, 2);
            assertThatThrownBy(() -> BboxTools.loc2bbox(bad, ok)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> BboxTools.bbox2loc(ok, boxes(0, 0, 1, 1))).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> BboxTools.bboxIou(ok, bad)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> BboxTools.generateAnchorBase(16, new double[]{0}, new double[]{8}))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void anchorBaseIsCentredOnTheCell() {
        try (PointerScope s = new PointerScope()) {
            float[] a = Tensors.toFloatArray(BboxTools.generateAnchorBase(16, new double[]{0.5, 1, 2}, new double[]{8, 16, 32}));
            assertThat(a).hasSize(36);
            for (int i = 0; i < 9; i++) {
                assertThat((a[i * 4] + a[i * 4 + 2]) / 2).isCloseTo(8f, org.assertj.core.data.Offset.offset(1e-4f));
                assertThat((a[i * 4 + 1] + a[i * 4 + 3]) / 2).isCloseTo(8f, org.assertj.core.data.Offset.offset(1e-4f));
            }
            // row 3 = ratio 1, scale 8: a 128 x 128 square
            assertThat(new float[]{a[12], a[13], a[14], a[15]}).containsExactly(-56f, -56f, 72f, 72f);
        }
    }

    @Test
    void bbox2locAndLoc2bboxAreInverse() {
        try (PointerScope s = new PointerScope()) {
            Random r = new Random(7);
            Tensor src = randomGt(r, 50, 500, 600), dst = randomGt(r, 50, 500, 600);
            Tensor back = BboxTools.loc2bbox(src, BboxTools.bbox2loc(src, dst));
            float[] b = Tensors.toFloatArray(back), d = Tensors.toFloatArray(dst);
            for (int i = 0; i < b.length; i++) assertThat(Math.abs(b[i] - d[i])).isLessThan(1e-3f);
        }
    }

    @Test
    void iouOfIdenticalDisjointAndHalfOverlappingBoxes() {
        try (PointerScope s = new PointerScope()) {
            Tensor a = boxes(0, 0, 10, 10);
            Tensor b = boxes(0, 0, 10, 10, 20, 20, 30, 30, 0, 5, 10, 15, 10, 0, 20, 10);
            float[] iou = Tensors.toFloatArray(BboxTools.bboxIou(a, b));
            assertThat(iou[0]).isEqualTo(1f);
            assertThat(iou[1] == 0f).isTrue();
            assertThat(iou[2]).isEqualTo(50f / 150f);
            assertThat(iou[3] == 0f).as("touching boxes do not intersect").isTrue();
        }
    }

    @Test
    void firstNKeepsTheLowestIndices() {
        try (PointerScope s = new PointerScope()) {
            Tensor c = Tensors.fromLongs(new long[]{2, 5, 9, 11}, 4);
            assertThat(Tensors.toLongArray(Sampler.firstN().choose(c, 3))).containsExactly(2, 5, 9);
            assertThat(Tensors.toLongArray(Sampler.firstN().choose(c, 0))).isEmpty();
            assertThatThrownBy(() -> Sampler.firstN().choose(c, 5)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> Sampler.firstN().choose(c, -1)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void seededSamplerGivesRequestedCountsWithoutReplacementAndIsReproducible() {
        try (PointerScope s = new PointerScope()) {
            long[] cand = new long[500];
            for (int i = 0; i < cand.length; i++) cand[i] = 3L * i + 1;
            Tensor c = Tensors.fromLongs(cand, cand.length);
            Set<Long> allowed = new HashSet<>();
            for (long v : cand) allowed.add(v);
            Sampler s1 = Sampler.seeded(42), s2 = Sampler.seeded(42), s3 = Sampler.seeded(43);
            for (long n : new long[]{0, 1, 37, 250, 500}) {
                long[] a = Tensors.toLongArray(s1.choose(c, n));
                long[] b = Tensors.toLongArray(s2.choose(c, n));
                assertThat(a).hasSize((int) n).containsExactly(b);
                assertThat(Arrays.stream(a).distinct().count()).isEqualTo(n);
                for (long v : a) assertThat(allowed).contains(v);
            }
            long[] x = Tensors.toLongArray(Sampler.seeded(42).choose(c, 100));
            long[] y = Tensors.toLongArray(s3.choose(c, 100));
            assertThat(x).isNotEqualTo(y);
            assertThatThrownBy(() -> s1.choose(c, 501)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void anchorTargetCreatorRejectsAnEmptyGtSet() {
        try (PointerScope s = new PointerScope()) {
            AnchorTargetCreator atc = new AnchorTargetCreator();
            assertThatThrownBy(() -> atc.call(boxes(), anchors(), 300, 400))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("gt box");
        }
    }

    @Test
    void anchorTargetCreatorWithNoInsideAnchorIgnoresAll() {
        try (PointerScope s = new PointerScope()) {
            Tensor anchor = boxes(-10, -10, 20, 20, 5, 5, 500, 500);
            AnchorTargetCreator.Result r = new AnchorTargetCreator().call(boxes(0, 0, 10, 10), anchor, 100, 100);
            assertThat(Tensors.toLongArray(r.label())).containsExactly(-1, -1);
            assertThat(Tensors.toFloatArray(r.loc())).containsOnly(0f).hasSize(8);
        }
    }

    @Test
    void anchorTargetCreatorWithSeededSamplerRespectsCountsAndIsReproducible() {
        try (PointerScope s = new PointerScope()) {
            Tensor anchor = anchors();
            Tensor gt = randomGt(new Random(3), 12, 300, 400);
            AnchorTargetCreator first = new AnchorTargetCreator(64, 0.7, 0.3, 0.25, Sampler.firstN());
            AnchorTargetCreator.Trace base = first.trace(gt, anchor, 300, 400);
            long[] before = Tensors.toLongArray(base.labelBeforeSubsample());
            long posBefore = count(before, 1), negBefore = count(before, 0);
            assertThat(posBefore).as("test setup: positives must be subsampled").isGreaterThan(16);

            long[][] runs = new long[2][];
            for (int k = 0; k < 2; k++) {
                AnchorTargetCreator atc = new AnchorTargetCreator(64, 0.7, 0.3, 0.25, Sampler.seeded(11));
                AnchorTargetCreator.Trace t = atc.trace(gt, anchor, 300, 400);
                long[] label = Tensors.toLongArray(t.result().label());
                long[] inside = Tensors.toLongArray(t.insideIndex());
                assertThat(count(label, 1)).isEqualTo(16);
                assertThat(count(label, 0)).isEqualTo(Math.min(48, negBefore));
                // sampled labels only switch candidates off, never change their class
                for (int i = 0; i < inside.length; i++) {
                    long l = label[(int) inside[i]];
                    if (l != -1) assertThat(l).isEqualTo(before[i]);
                }
                runs[k] = label;
            }
            assertThat(runs[0]).containsExactly(runs[1]);
            assertThat(runs[0]).isNotEqualTo(Tensors.toLongArray(base.result().label()));
        }
    }

    @Test
    void proposalTargetCreatorRejectsAnEmptyGtSet() {
        try (PointerScope s = new PointerScope()) {
            ProposalTargetCreator ptc = new ProposalTargetCreator();
            assertThatThrownBy(() -> ptc.call(boxes(0, 0, 10, 10), boxes(), Tensors.fromLongs(new long[0], 0)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("gt box");
        }
    }

    @Test
    void proposalTargetCreatorWithNoRoisSamplesTheGtBoxes() {
        try (PointerScope s = new PointerScope()) {
            Tensor gt = boxes(0, 0, 10, 10, 20, 20, 40, 50);
            ProposalTargetCreator.Result r = new ProposalTargetCreator().call(boxes(), gt, Tensors.fromLongs(new long[]{4, 7}, 2));
            assertThat(Tensors.toLongArray(r.gtRoiLabel())).containsExactly(5, 8);
            assertThat(Tensors.toFloatArray(r.sampleRoi())).containsExactly(Tensors.toFloatArray(gt));
            assertThat(Tensors.toFloatArray(r.gtRoiLoc())).containsOnly(0f);
        }
    }

    @Test
    void proposalTargetCreatorWithSeededSamplerRespectsCountsAndIsReproducible() {
        try (PointerScope s = new PointerScope()) {
            Random rnd = new Random(5);
            Tensor gt = randomGt(rnd, 3, 300, 400);
            Tensor label = Tensors.fromLongs(new long[]{0, 7, 19}, 3);
            // RoIs: jittered copies of the gt boxes (many positives) plus random boxes (negatives)
            float[] g = Tensors.toFloatArray(gt);
            float[] roi = new float[400 * 4];
            for (int i = 0; i < 400; i++) {
                int k = i % 3;
                float j = i < 150 ? 4f : 150f;
                for (int c = 0; c < 4; c++) roi[i * 4 + c] = g[k * 4 + c] + (rnd.nextFloat() - 0.5f) * j;
                if (roi[i * 4 + 2] <= roi[i * 4]) roi[i * 4 + 2] = roi[i * 4] + 1;
                if (roi[i * 4 + 3] <= roi[i * 4 + 1]) roi[i * 4 + 3] = roi[i * 4 + 1] + 1;
            }
            Tensor rois = Tensors.fromFloats(roi, 400, 4);
            ProposalTargetCreator.Trace ref = new ProposalTargetCreator().trace(rois, gt, label);
            long[] refLabel = Tensors.toLongArray(ref.result().gtRoiLabel());
            long nPos = refLabel.length - count(refLabel, 0);
            assertThat(nPos).as("test setup: positives must be subsampled").isEqualTo(32);

            long[][] keep = new long[2][];
            for (int k = 0; k < 2; k++) {
                ProposalTargetCreator ptc = new ProposalTargetCreator(128, 0.25, 0.5, 0.5, 0.0,
                        new double[]{0, 0, 0, 0}, new double[]{0.1, 0.1, 0.2, 0.2}, Sampler.seeded(99));
                ProposalTargetCreator.Trace t = ptc.trace(rois, gt, label);
                long[] l = Tensors.toLongArray(t.result().gtRoiLabel());
                assertThat(l).hasSize(refLabel.length);
                for (int i = 0; i < l.length; i++) assertThat(l[i] > 0).as("positives first").isEqualTo(i < nPos);
                float[] maxIou = Tensors.toFloatArray(t.maxIou());
                keep[k] = Tensors.toLongArray(t.keepIndex());
                assertThat(Arrays.stream(keep[k]).distinct().count()).isEqualTo(keep[k].length);
                for (int i = 0; i < keep[k].length; i++) {
                    float m = maxIou[(int) keep[k][i]];
                    if (i < nPos) assertThat(m).isGreaterThanOrEqualTo(0.5f); else assertThat(m).isLessThan(0.5f);
                }
            }
            assertThat(keep[0]).containsExactly(keep[1]);
            assertThat(keep[0]).isNotEqualTo(Tensors.toLongArray(ref.keepIndex()));
        }
    }
}
