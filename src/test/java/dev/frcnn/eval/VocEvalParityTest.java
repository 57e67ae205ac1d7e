package dev.frcnn.eval;

import dev.frcnn.chart.ChartStyle;
import dev.frcnn.data.ImageReader;
import dev.frcnn.testing.ChartImages;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

import java.awt.image.BufferedImage;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/** Parity of {@link VocEval} with {@code eval_voc.json} (every case listed in its params). */
@SuppressWarnings("try")
class VocEvalParityTest {
    private static final Golden G = Golden.load("eval_voc.json");
    private static final double ATOL = 1e-12;

    private record Case(List<VocEval.Detections> preds, List<VocEval.GroundTruth> gts) {}

    private static List<String> cases() {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = G.params().path("cases").fieldNames(); it.hasNext(); ) out.add(it.next());
        assertThat(out).as("cases in eval_voc.json params").isNotEmpty();
        return out;
    }

    private static Case load(String c) {
        float[] pb = G.floats(c + "_pred_bboxes"), ps = G.floats(c + "_pred_scores");
        long[] pl = G.longs(c + "_pred_labels"), pc = G.longs(c + "_pred_counts");
        float[] gb = G.floats(c + "_gt_bboxes");
        long[] gl = G.longs(c + "_gt_labels"), gd = G.longs(c + "_gt_difficults"), gc = G.longs(c + "_gt_counts");
        assertThat(pc.length).isEqualTo(gc.length);
        List<VocEval.Detections> preds = new ArrayList<>();
        List<VocEval.GroundTruth> gts = new ArrayList<>();
        int po = 0, go = 0;
        for (int i = 0; i < pc.length; i++) {
            int n = (int) pc[i];
            float[] b = new float[4 * n], s = new float[n];
            int[] l = new int[n];
            System.arraycopy(pb, 4 * po, b, 0, 4 * n);
            System.arraycopy(ps, po, s, 0, n);
            for (int k = 0; k < n; k++) l[k] = (int) pl[po + k];
            preds.add(new VocEval.Detections(b, l, s));
            po += n;
            int m = (int) gc[i];
            float[] gbb = new float[4 * m];
            int[] gll = new int[m];
            boolean[] gdd = new boolean[m];
            System.arraycopy(gb, 4 * go, gbb, 0, 4 * m);
            for (int k = 0; k < m; k++) {
                gll[k] = (int) gl[go + k];
                gdd[k] = gd[go + k] != 0;
            }
            gts.add(new VocEval.GroundTruth(gbb, gll, gdd));
            go += m;
        }
        assertThat(po).isEqualTo(pl.length);
        assertThat(go).isEqualTo(gl.length);
        return new Case(preds, gts);
    }

    /** |actual - expected| <= ATOL; NaN matches only NaN (the fixture's null), infinities always fail. */
    private static void assertClose(double actual, double expected, String what) {
        TensorAssert.assertScalarClose(actual, expected, ATOL, what);
    }

    @Test
    void apAndMapBothMetrics() {
        for (String c : cases()) {
            Case k = load(c);
            for (String metric : new String[] {"07", "10"}) {
                VocEval.Result r = VocEval.evalDetectionVoc(k.preds(), k.gts(), G.params().path("iou_thresh").asDouble(),
                        metric.equals("07"));
                double[] e = G.doubles(c + "_ap_" + metric);
                assertThat(r.ap().length).as(c + " class count").isEqualTo(e.length);
                for (int l = 0; l < e.length; l++) assertClose(r.ap()[l], e[l], c + " ap_" + metric + "[" + l + "]");
                assertClose(r.map(), G.scalar(c + "_map_" + metric), c + " map_" + metric);
            }
        }
    }

    @Test
    void precisionAndRecallCurves() {
        for (String c : cases()) {
            Case k = load(c);
            VocEval.PrecRec pr = VocEval.calcPrecRec(k.preds(), k.gts(), G.params().path("iou_thresh").asDouble());
            for (String which : new String[] {"prec", "rec"}) {
                long[] counts = G.longs(c + "_" + which + "_counts");
                double[] concat = G.doubles(c + "_" + which + "_concat");
                double[][] got = which.equals("prec") ? pr.prec() : pr.rec();
                assertThat(got.length).as(c + " " + which + " classes").isEqualTo(counts.length);
                int off = 0;
                for (int l = 0; l < counts.length; l++) {
                    if (counts[l] < 0) {
                        assertThat(got[l]).as(c + " " + which + "[" + l + "] is None").isNull();
                        continue;
                    }
                    assertThat(got[l]).as(c + " " + which + "[" + l + "]").isNotNull().hasSize((int) counts[l]);
                    for (int i = 0; i < counts[l]; i++) assertClose(got[l][i], concat[off + i], c + " " + which + "[" + l + "][" + i + "]");
                    off += (int) counts[l];
                }
                assertThat(off).isEqualTo(concat.length);
            }
        }
    }

    @Test
    void accumulatorEqualsListApiAndTensorInput() {
        List<String> all = cases();
        assertThat(all).as("eval_voc cases").isNotEmpty();
        for (String c : all) {
            Case k = load(c);
            VocEval ev = new VocEval(G.params().path("iou_thresh").asDouble());
            try (PointerScope s = new PointerScope()) {
                for (int i = 0; i < k.preds().size(); i++) {
                    VocEval.Detections d = k.preds().get(i);
                    VocEval.GroundTruth g = k.gts().get(i);
                    Tensor pb = dev.frcnn.tensor.Tensors.fromFloats(d.bbox(), d.size(), 4);
                    Tensor gb = dev.frcnn.tensor.Tensors.fromFloats(g.bbox(), g.size(), 4);
                    long[] dl = new long[d.size()], gl = new long[g.size()], gd = new long[g.size()];
                    for (int j = 0; j < dl.length; j++) dl[j] = d.label()[j];
                    for (int j = 0; j < gl.length; j++) {
                        gl[j] = g.label()[j];
                        gd[j] = g.difficult()[j] ? 1 : 0;
                    }
                    ev.add(VocEval.Detections.of(pb, dev.frcnn.tensor.Tensors.fromLongs(dl, dl.length),
                                    dev.frcnn.tensor.Tensors.fromFloats(d.score(), d.size())),
                            VocEval.GroundTruth.of(gb, dev.frcnn.tensor.Tensors.fromLongs(gl, gl.length),
                                    dev.frcnn.tensor.Tensors.fromLongs(gd, gd.length)));
                }
            }
            assertThat(ev.imageCount()).as(c + " images").isEqualTo(k.preds().size());
            for (String metric : new String[] {"07", "10"}) {
                VocEval.Result r = ev.evaluate(metric.equals("07"));
                double[] e = G.doubles(c + "_ap_" + metric);
                assertThat(r.ap()).as(c + " class count").hasSize(e.length);
                for (int l = 0; l < e.length; l++) assertClose(r.ap()[l], e[l], c + " ap_" + metric + "[" + l + "] via tensors");
                assertClose(r.map(), G.scalar(c + "_map_" + metric), c + " map_" + metric + " via tensors");
            }
        }
    }

    @Test
    void badInputs() {
        assertThatThrownBy(() -> new VocEval.Detections(new float[4], new int[] {0}, new float[2]))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new VocEval.GroundTruth(new float[4], new int[] {-1}, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        assertThatThrownBy(() -> VocEval.evalDetectionVoc(List.of(), List.of(new VocEval.GroundTruth(new float[0], new int[0], null)), 0.5, true))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(VocEval.nanmean(new double[] {Double.NaN})).isNaN();
        assertThat(VocEval.nanmean(new double[] {Double.NaN, 0.25, 0.75})).isEqualTo(0.5);
    }

    @Test
    void writesPrCurvePngs(@TempDir Path dir) throws Exception {
        String c = cases().get(0);
        Case k = load(c);
        VocEval.Result r = VocEval.evalDetectionVoc(k.preds(), k.gts(), G.params().path("iou_thresh").asDouble(), true);
        List<String> names = List.of("aeroplane", "bicycle", "bird");   // others fall back to classN
        List<Path> files = VocEval.writePrCurves(dir.resolve("pr"), r, names);
        long expected = 0;
        for (int l = 0; l < r.precRec().classCount(); l++) {
            if (r.precRec().prec()[l] != null && r.precRec().rec()[l] != null) expected++;
        }
        assertThat(files).hasSize((int) expected);
        assertThat(files.get(0).getFileName().toString()).isEqualTo("pr_00_aeroplane.png");
        for (Path f : files) {
            assertThat(Files.isRegularFile(f)).as(f.toString()).isTrue();
            try (PointerScope s = new PointerScope()) {
                Tensor img = ImageReader.readRgbChw(f);
                assertThat(img.size(0)).isEqualTo(3);
                assertThat(img.size(1)).isEqualTo(PrCurves.HEIGHT);
                assertThat(img.size(2)).isEqualTo(PrCurves.WIDTH);
                // not blank: the curve and text leave non-white pixels
                assertThat(img.lt(new org.bytedeco.pytorch.Scalar(250.0)).sum().item_long()).isGreaterThan(100);
            }
            Path svg = f.resolveSibling(f.getFileName().toString().replace(".png", ".svg"));
            Document d = ChartImages.svg(svg);
            assertThat(d.getDocumentElement().getAttribute("width")).isEqualTo(PrCurves.WIDTH + "px");
        }
        // a class with detections has its curve (and legend sample) in the first series colour
        int l = 0;
        while (r.precRec().prec()[l] == null || r.precRec().prec()[l].length == 0) l++;
        Path withCurve = files.get(l);
        BufferedImage img = ChartImages.png(withCurve);
        assertThat(ChartImages.pixelsNear(img, ChartStyle.SERIES_COLORS[0], 0, PrCurves.HEIGHT * 3 / 4))
                .as(withCurve + ": the curve in the plot").isGreaterThan(50);
        assertThat(ChartImages.shapesIn(ChartImages.svg(withCurve.resolveSibling(
                withCurve.getFileName().toString().replace(".png", ".svg"))), ChartStyle.SERIES_COLORS[0]))
                .isGreaterThanOrEqualTo(2);
    }

    @Test
    void prCurvesOfClassesWithoutDetectionsOrGroundTruthStillDraw(@TempDir Path dir) throws Exception {
        double[][] prec = {{}, {Double.NaN, 0.5}, {1.0, 0.5}};
        double[][] rec = {{}, {Double.NaN, Double.NaN}, {Double.POSITIVE_INFINITY, 0.5}};
        VocEval.Result r = new VocEval.Result(new double[] {Double.NaN, Double.NaN, 0.25}, 0.25,
                new VocEval.PrecRec(prec, rec), false);
        List<Path> files = VocEval.writePrCurves(dir, r, null);
        assertThat(files).extracting(p -> p.getFileName().toString())
                .containsExactly("pr_00_class0.png", "pr_01_class1.png", "pr_02_class2.png");
        for (Path f : files) assertThat(ChartImages.png(f).getWidth()).isEqualTo(PrCurves.WIDTH);
        assertThat(ChartImages.shapesIn(ChartImages.svg(dir.resolve("pr_01_class1.svg")), ChartStyle.SERIES_COLORS[0]))
                .as("no finite recall: no curve").isZero();
        assertThat(ChartImages.shapesIn(ChartImages.svg(dir.resolve("pr_02_class2.svg")), ChartStyle.SERIES_COLORS[0]))
                .as("the one finite point").isGreaterThanOrEqualTo(2);
    }

    @Test
    void aPrCurveThatCannotBeWrittenNamesTheFile(@TempDir Path dir) throws Exception {
        VocEval.Result r = new VocEval.Result(new double[] {0.5}, 0.5,
                new VocEval.PrecRec(new double[][] {{1.0, 0.5}}, new double[][] {{0.5, 0.5}}), true);
        Files.createDirectories(dir.resolve("pr_00_cat.png/inside"));
        assertThatThrownBy(() -> VocEval.writePrCurves(dir, r, List.of("cat")))
                .isInstanceOf(java.io.UncheckedIOException.class)
                .hasMessageStartingWith(dir.resolve("pr_00_cat.png") + ": cannot write: ");
    }
}
