package dev.frcnn.eval;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;

/**
 * PASCAL VOC detection evaluation, a port of the reference's {@code utils/eval_tool}
 * ({@code eval_detection_voc}, {@code calc_detection_voc_prec_rec}, {@code calc_detection_voc_ap}).
 *
 * <p>Usage: create one evaluator, {@link #add} every image's detections and ground truth (in any image
 * order; the result does not depend on it except for score ties), then {@link #evaluate}. The static
 * {@link #evalDetectionVoc} does the same for whole lists.
 *
 * <p>Semantics, exactly as the reference:
 * <ul>
 *   <li>Boxes are (ymin, xmin, ymax, xmax) in pixels. Before matching, 1 is added to ymax and xmax of
 *       predictions and ground truth (VOC's inclusive integer-pixel convention) and the IoU is computed
 *       in float32 ({@code bbox_iou}).</li>
 *   <li>Per image and class, predictions are taken by descending score; each is matched to the gt box of
 *       highest IoU (first on ties). IoU &ge; {@code iouThresh}: a difficult gt makes the prediction
 *       ignored (and the gt taken), a gt already taken makes it a false positive, else it is a true
 *       positive. IoU below the threshold: false positive.</li>
 *   <li>Over all images, per class, matches are sorted by descending score; {@code prec = tp / (tp + fp)}
 *       (cumulative; NaN where 0/0), {@code rec = tp / n_pos} with {@code n_pos} = number of non-difficult
 *       gt boxes. The class list has length (largest label seen in predictions or gt) + 1. {@code prec}
 *       is {@code null} for a class never seen, {@code rec} is {@code null} where {@code n_pos == 0};
 *       AP is NaN where either is {@code null}. mAP is the mean over non-NaN APs (numpy's nanmean).</li>
 *   <li>Score ties (not present in the fixtures) are broken like a stable ascending sort reversed: among
 *       equal scores the later prediction comes first. numpy's quicksort may differ there.</li>
 * </ul>
 * Precision, recall and AP are computed in float64 with numpy's summation order.
 */
public final class VocEval {
    private final double iouThresh;
    private final float iouThreshF;
    private final TreeMap<Integer, ClassAcc> perClass = new TreeMap<>();
    private int images;

    /** Per-class accumulators: {@code n_pos}, all scores, all match flags (1 TP, 0 FP, -1 ignored). */
    private static final class ClassAcc {
        long nPos;
        float[] score = new float[16];
        int nScore;
        byte[] match = new byte[16];
        int nMatch;

        void addScore(float s) {
            if (nScore == score.length) score = Arrays.copyOf(score, 2 * nScore);
            score[nScore++] = s;
        }

        void addMatch(int m) {
            if (nMatch == match.length) match = Arrays.copyOf(match, 2 * nMatch);
            match[nMatch++] = (byte) m;
        }
    }

    /**
     * Detections of one image.
     *
     * @param bbox (R, 4) boxes flattened row-major: (ymin, xmin, ymax, xmax) in pixels, float32
     * @param label (R,) class indices, 0-based over the foreground classes (&ge; 0)
     * @param score (R,) confidence scores
     */
    public record Detections(float[] bbox, int[] label, float[] score) {
        /** Checks the lengths. @throws IllegalArgumentException if they disagree or a label is negative */
        public Detections {
            Objects.requireNonNull(bbox, "bbox");
            Objects.requireNonNull(label, "label");
            Objects.requireNonNull(score, "score");
            if (bbox.length != 4 * label.length || score.length != label.length) {
                throw new IllegalArgumentException("detections: bbox has " + bbox.length + " values, label "
                        + label.length + ", score " + score.length + " (need 4R, R, R)");
            }
            checkLabels(label, "detection");
        }

        /**
         * From tensors on any device.
         *
         * @param bbox (R, 4) float boxes (ymin, xmin, ymax, xmax)
         * @param label (R,) integer labels
         * @param score (R,) float scores
         */
        public static Detections of(Tensor bbox, Tensor label, Tensor score) {
            return new Detections(Tensors.toFloatArray(bbox), toInts(Tensors.toLongArray(label)),
                    Tensors.toFloatArray(score));
        }

        /** Number of detections R. */
        public int size() {
            return label.length;
        }
    }

    /**
     * Ground truth of one image.
     *
     * @param bbox (R, 4) boxes flattened row-major: (ymin, xmin, ymax, xmax) in pixels, float32
     * @param label (R,) class indices, 0-based over the foreground classes (&ge; 0)
     * @param difficult (R,) VOC "difficult" flags, or {@code null} for all false
     */
    public record GroundTruth(float[] bbox, int[] label, boolean[] difficult) {
        /** Checks the lengths; a {@code null} difficult array becomes all false. */
        public GroundTruth {
            Objects.requireNonNull(bbox, "bbox");
            Objects.requireNonNull(label, "label");
            if (difficult == null) difficult = new boolean[label.length];
            if (bbox.length != 4 * label.length || difficult.length != label.length) {
                throw new IllegalArgumentException("ground truth: bbox has " + bbox.length + " values, label "
                        + label.length + ", difficult " + difficult.length + " (need 4R, R, R)");
            }
            checkLabels(label, "ground-truth");
        }

        /**
         * From tensors on any device.
         *
         * @param bbox (R, 4) float boxes (ymin, xmin, ymax, xmax)
         * @param label (R,) integer labels
         * @param difficult (R,) bool or integer flags, or {@code null}
         */
        public static GroundTruth of(Tensor bbox, Tensor label, Tensor difficult) {
            boolean[] d = null;
            if (difficult != null) {
                long[] v = Tensors.toLongArray(difficult);
                d = new boolean[v.length];
                for (int i = 0; i < v.length; i++) d[i] = v[i] != 0;
            }
            return new GroundTruth(Tensors.toFloatArray(bbox), toInts(Tensors.toLongArray(label)), d);
        }

        /** Number of gt boxes R. */
        public int size() {
            return label.length;
        }
    }

    /**
     * Per-class precision and recall curves ({@code calc_detection_voc_prec_rec}'s return values).
     *
     * @param prec per class: cumulative precision over that class's detections sorted by descending
     *     score (NaN where no counted match yet), or {@code null} for a class never seen
     * @param rec per class: cumulative recall, same length as {@code prec[l]}, or {@code null} where the
     *     class has no non-difficult gt box
     */
    public record PrecRec(double[][] prec, double[][] rec) {
        /** Number of classes: largest label seen + 1. */
        public int classCount() {
            return prec.length;
        }
    }

    /**
     * Result of {@code eval_detection_voc}.
     *
     * @param ap per-class average precision (NaN where the reference gives NaN)
     * @param map nanmean of {@code ap}
     * @param precRec the curves the APs were computed from
     * @param use07Metric whether {@code ap} is the VOC2007 11-point AP (else the area under the envelope)
     */
    public record Result(double[] ap, double map, PrecRec precRec, boolean use07Metric) {}

    /**
     * An empty evaluator.
     *
     * @param iouThresh IoU at or above which a prediction matches a gt box (reference default 0.5). It is
     *     compared with float32 IoUs as numpy does, i.e. rounded to float32.
     */
    public VocEval(double iouThresh) {
        this.iouThresh = iouThresh;
        this.iouThreshF = (float) iouThresh;
    }

    /** An empty evaluator with IoU threshold 0.5. */
    public VocEval() {
        this(0.5);
    }

    /** The IoU threshold given at construction. */
    public double iouThresh() {
        return iouThresh;
    }

    /** Number of images added so far. */
    public int imageCount() {
        return images;
    }

    /**
     * Adds one image: matches its detections against its ground truth per class (the body of the
     * reference's per-image loop).
     *
     * @param pred the image's detections
     * @param gt the image's ground truth
     */
    public void add(Detections pred, GroundTruth gt) {
        images++;
        int[] labels = unionSorted(pred.label(), gt.label());
        for (int l : labels) {
            ClassAcc acc = perClass.computeIfAbsent(l, k -> new ClassAcc());
            Integer[] order = indicesOf(pred.label(), l);
            // descending score; ties: later index first (argsort()[::-1] of a stable sort)
            Arrays.sort(order, (a, b) -> byScoreDesc(pred.score(), a, b));
            Integer[] gIdx = indicesOf(gt.label(), l);
            for (int g : gIdx) if (!gt.difficult()[g]) acc.nPos++;
            for (int p : order) acc.addScore(pred.score()[p]);
            if (order.length == 0) continue;
            if (gIdx.length == 0) {
                for (int i = 0; i < order.length; i++) acc.addMatch(0);
                continue;
            }
            boolean[] selec = new boolean[gIdx.length];
            for (int p : order) {
                int best = argmaxIou(pred.bbox(), p, gt.bbox(), gIdx);
                if (best >= 0) {
                    int g = gIdx[best];
                    if (gt.difficult()[g]) {
                        acc.addMatch(-1);
                    } else {
                        acc.addMatch(selec[best] ? 0 : 1);
                    }
                    selec[best] = true;
                } else {
                    acc.addMatch(0);
                }
            }
        }
    }

    /**
     * The IoU argmax of prediction {@code p} over the gt boxes {@code gIdx}, or -1 if its IoU is below the
     * threshold. float32 arithmetic and numpy's argmax rules (first maximum; a NaN wins).
     */
    private int argmaxIou(float[] pb, int p, float[] gb, Integer[] gIdx) {
        float ay0 = pb[4 * p], ax0 = pb[4 * p + 1], ay1 = pb[4 * p + 2] + 1f, ax1 = pb[4 * p + 3] + 1f;
        float areaA = (ay1 - ay0) * (ax1 - ax0);
        int best = 0;
        float bestIou = 0;
        for (int j = 0; j < gIdx.length; j++) {
            int g = gIdx[j];
            float by0 = gb[4 * g], bx0 = gb[4 * g + 1], by1 = gb[4 * g + 2] + 1f, bx1 = gb[4 * g + 3] + 1f;
            float tly = Math.max(ay0, by0), tlx = Math.max(ax0, bx0);
            float bry = Math.min(ay1, by1), brx = Math.min(ax1, bx1);
            float prod = (bry - tly) * (brx - tlx);
            float areaI = prod * ((tly < bry && tlx < brx) ? 1f : 0f);
            float areaB = (by1 - by0) * (bx1 - bx0);
            float iou = areaI / ((areaA + areaB) - areaI);
            if (j == 0) {
                bestIou = iou;
                if (Float.isNaN(iou)) break;
            } else if (!(iou <= bestIou)) {
                bestIou = iou;
                best = j;
                if (Float.isNaN(iou)) break;
            }
        }
        return bestIou < iouThreshF ? -1 : best;
    }

    /**
     * Precision and recall per class over the images added so far ({@code calc_detection_voc_prec_rec}).
     *
     * @return the curves; {@code classCount()} = largest label seen + 1 (0 if nothing was seen)
     */
    public PrecRec precRec() {
        int n = perClass.isEmpty() ? 0 : perClass.lastKey() + 1;
        double[][] prec = new double[n][], rec = new double[n][];
        for (var e : perClass.entrySet()) {
            int l = e.getKey();
            ClassAcc acc = e.getValue();
            int m = acc.nScore;
            if (acc.nMatch != m) throw new IllegalStateException("class " + l + ": " + m + " scores but " + acc.nMatch + " matches");
            Integer[] order = new Integer[m];
            for (int i = 0; i < m; i++) order[i] = i;
            float[] sc = acc.score;
            Arrays.sort(order, (a, b) -> byScoreDesc(sc, a, b));
            double[] p = new double[m], r = acc.nPos > 0 ? new double[m] : null;
            long tp = 0, fp = 0;
            for (int i = 0; i < m; i++) {
                byte mt = acc.match[order[i]];
                if (mt == 1) tp++;
                if (mt == 0) fp++;
                p[i] = (double) tp / (double) (fp + tp);
                if (r != null) r[i] = (double) tp / (double) acc.nPos;
            }
            prec[l] = p;
            rec[l] = r;
        }
        return new PrecRec(prec, rec);
    }

    /**
     * Precision, recall, AP and mAP over the images added so far ({@code eval_detection_voc}).
     *
     * @param use07Metric true: VOC2007 11-point interpolated AP; false: area under the monotone
     *     precision envelope
     */
    public Result evaluate(boolean use07Metric) {
        PrecRec pr = precRec();
        double[] ap = calcAp(pr, use07Metric);
        return new Result(ap, nanmean(ap), pr, use07Metric);
    }

    /**
     * {@code calc_detection_voc_prec_rec} over per-image lists.
     *
     * @param preds detections, one entry per image
     * @param gts ground truth, one entry per image, same image order
     * @param iouThresh matching threshold (reference default 0.5)
     * @throws IllegalArgumentException if the lists differ in length
     */
    public static PrecRec calcPrecRec(List<Detections> preds, List<GroundTruth> gts, double iouThresh) {
        return fill(preds, gts, iouThresh).precRec();
    }

    /**
     * {@code eval_detection_voc} over per-image lists.
     *
     * @param preds detections, one entry per image
     * @param gts ground truth, one entry per image, same image order
     * @param iouThresh matching threshold (reference default 0.5)
     * @param use07Metric 11-point AP (true) or area AP (false; the reference's default)
     * @throws IllegalArgumentException if the lists differ in length
     */
    public static Result evalDetectionVoc(List<Detections> preds, List<GroundTruth> gts, double iouThresh,
                                          boolean use07Metric) {
        return fill(preds, gts, iouThresh).evaluate(use07Metric);
    }

    private static VocEval fill(List<Detections> preds, List<GroundTruth> gts, double iouThresh) {
        if (preds.size() != gts.size()) {
            throw new IllegalArgumentException("Length of input iterables need to be same: " + preds.size()
                    + " detection entries, " + gts.size() + " ground-truth entries");
        }
        VocEval ev = new VocEval(iouThresh);
        for (int i = 0; i < preds.size(); i++) ev.add(preds.get(i), gts.get(i));
        return ev;
    }

    /**
     * {@code calc_detection_voc_ap}: AP per class from precision/recall curves.
     *
     * @param pr the curves
     * @param use07Metric true: mean over t = 0, 0.1, ..., 1.0 of the max precision (NaN as 0) at recall
     *     &ge; t (0 if none); false: sum of recall steps times the precision envelope, with sentinels
     * @return per-class AP, NaN where {@code prec} or {@code rec} is {@code null}
     */
    public static double[] calcAp(PrecRec pr, boolean use07Metric) {
        int n = pr.classCount();
        double[] ap = new double[n];
        for (int l = 0; l < n; l++) {
            double[] prec = pr.prec()[l], rec = pr.rec()[l];
            if (prec == null || rec == null) {
                ap[l] = Double.NaN;
                continue;
            }
            if (use07Metric) {
                double a = 0;
                for (int i = 0; i <= 10; i++) {
                    double t = i * 0.1;
                    double p = 0;
                    boolean any = false;
                    for (int k = 0; k < rec.length; k++) {
                        if (rec[k] >= t) {
                            double v = Double.isNaN(prec[k]) ? 0 : prec[k];
                            p = any ? Math.max(p, v) : v;
                            any = true;
                        }
                    }
                    a += p / 11;
                }
                ap[l] = a;
            } else {
                int m = prec.length;
                double[] mpre = new double[m + 2], mrec = new double[m + 2];
                for (int k = 0; k < m; k++) {
                    mpre[k + 1] = Double.isNaN(prec[k]) ? 0 : prec[k];
                    mrec[k + 1] = rec[k];
                }
                mrec[m + 1] = 1;
                for (int k = m; k >= 0; k--) mpre[k] = Math.max(mpre[k], mpre[k + 1]);
                double[] terms = new double[m + 1];
                int nt = 0;
                for (int k = 0; k < m + 1; k++) {
                    if (mrec[k + 1] != mrec[k]) terms[nt++] = (mrec[k + 1] - mrec[k]) * mpre[k + 1];
                }
                ap[l] = numpySum(terms, 0, nt);
            }
        }
        return ap;
    }

    /**
     * numpy's {@code nanmean}: the sum with NaNs replaced by 0 (numpy's pairwise order) divided by the
     * number of non-NaN values; NaN if there are none.
     */
    public static double nanmean(double[] v) {
        double[] z = new double[v.length];
        int cnt = 0;
        for (int i = 0; i < v.length; i++) {
            if (Double.isNaN(v[i])) {
                z[i] = 0;
            } else {
                z[i] = v[i];
                cnt++;
            }
        }
        return numpySum(z, 0, z.length) / cnt;
    }

    /** numpy's pairwise summation of a contiguous float64 array (blocks of 8, 128-element leaves). */
    static double numpySum(double[] a, int from, int n) {
        if (n < 8) {
            double res = 0.;
            for (int i = 0; i < n; i++) res += a[from + i];
            return res;
        } else if (n <= 128) {
            double[] r = new double[8];
            System.arraycopy(a, from, r, 0, 8);
            int i;
            for (i = 8; i < n - (n % 8); i += 8) {
                for (int j = 0; j < 8; j++) r[j] += a[from + i + j];
            }
            double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) res += a[from + i];
            return res;
        } else {
            int n2 = n / 2;
            n2 -= n2 % 8;
            return numpySum(a, from, n2) + numpySum(a, from + n2, n - n2);
        }
    }

    /**
     * Writes one precision-recall chart per class that has a curve (both {@code prec} and {@code rec} non-null): axes
     * from 0 to 1 with their titles, a grid, the raw (recall, precision) curve, the class name and its AP in the title,
     * the name in the legend. Files are named {@code pr_<index>_<name>.png} (the name reduced to letters, digits, '-'
     * and '_'), each with its SVG twin {@code pr_<index>_<name>.svg}. Each PNG is {@link PrCurves#WIDTH} x
     * {@link PrCurves#HEIGHT} pixels, 8-bit RGB.
     *
     * @param dir output directory (created if missing)
     * @param result an evaluation result
     * @param classNames names by class index (may be shorter than the class count, or {@code null}:
     *     missing names become {@code class<index>})
     * @return the PNG files written, in class order (each has its {@code .svg} beside it)
     * @throws java.io.UncheckedIOException if the directory cannot be created or a chart not drawn or written; its
     *     message names the file
     */
    public static List<Path> writePrCurves(Path dir, Result result, List<String> classNames) {
        return PrCurves.write(dir, result, classNames == null ? new ArrayList<>() : classNames);
    }

    /**
     * Order of {@code argsort()[::-1]} with a stable argsort: descending score (NaN first, as numpy sorts
     * NaN last; -0.0 equals 0.0), ties by descending index.
     */
    private static int byScoreDesc(float[] s, int a, int b) {
        float x = s[a], y = s[b];
        boolean nx = Float.isNaN(x), ny = Float.isNaN(y);
        if (nx != ny) return nx ? -1 : 1;
        if (!nx && x != y) return x > y ? -1 : 1;
        return Integer.compare(b, a);
    }

    private static void checkLabels(int[] label, String what) {
        for (int v : label) {
            if (v < 0) throw new IllegalArgumentException(what + " label " + v + " is negative");
        }
    }

    private static int[] toInts(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = Math.toIntExact(v[i]);
        return out;
    }

    private static int[] unionSorted(int[] a, int[] b) {
        int[] all = new int[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return Arrays.stream(all).distinct().sorted().toArray();
    }

    private static Integer[] indicesOf(int[] labels, int l) {
        int n = 0;
        for (int v : labels) if (v == l) n++;
        Integer[] out = new Integer[n];
        int k = 0;
        for (int i = 0; i < labels.length; i++) if (labels[i] == l) out[k++] = i;
        return out;
    }
}
