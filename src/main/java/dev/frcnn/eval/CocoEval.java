package dev.frcnn.eval;

import dev.frcnn.error.UserInputException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * COCO box evaluation, our own implementation of what pycocotools' {@code COCOeval(cocoGt, cocoDt, 'bbox')}
 * computes with {@code evaluate()}, {@code accumulate()} and {@code summarize()} (cocodataset/cocoapi), in
 * double precision, so that its numbers equal the reference's (see {@code CocoEvalParityTest}).
 *
 * <p>Boxes are {@code [x, y, w, h]} in pixels, as in COCO files. The steps, as the reference:
 * <ul>
 *   <li>Images are the ground truth's image ids sorted ascending, categories its category ids sorted
 *       ascending. Ground truth of another image and detections or ground truth of a category not in the
 *       ground truth's categories never take part (in both modes).</li>
 *   <li>IoU: {@code inter / (detArea + gtArea - inter)} with areas {@code w*h}, or {@code inter / detArea}
 *       when the ground truth is a crowd; 0 when the intersection's width or height is &le; 0 (so a box of
 *       zero width has IoU 0 even with itself).</li>
 *   <li>Per image and category (per image alone when {@code useCats} is off): detections by descending
 *       score (stable: ties keep file order; with {@code useCats} off, category order then file order),
 *       the first {@code max(maxDets)} kept. For each area range, a ground-truth box is ignored when it is a
 *       crowd or its {@code area} field is outside {@code [min, max]} (both bounds inclusive); ignored ones
 *       go last (stable). At each IoU threshold {@code t} each detection takes the ground-truth box of
 *       highest IoU &ge; {@code min(t, 1 - 1e-10)}; on equal IoU the later box wins; a non-crowd box taken
 *       already is skipped; a crowd box takes any number; once a non-ignored box is held, the scan stops at
 *       the first ignored one. A detection matched to an ignored box is ignored; an unmatched one whose
 *       {@code w*h} is outside the area range is ignored.</li>
 *   <li>Per category, area range and {@code maxDet}: each image's first {@code maxDet} detections,
 *       concatenated in image order, stably sorted by descending score; {@code tp}, {@code fp} cumulative
 *       counts over the non-ignored ones, {@code rc = tp / npig} ({@code npig}: non-ignored ground truth),
 *       {@code pr = tp / (tp + fp + 2^-52)}, made non-increasing from the end; precision at recall
 *       threshold {@code r} is {@code pr[i]} for the first {@code i} with {@code rc[i] >= r}, 0 if none;
 *       recall is the last {@code rc} (0 with no detections). Left at -1 when no image has ground truth or
 *       detections there, or when {@code npig == 0}.</li>
 *   <li>Summary numbers and per-category APs are the mean of the entries &gt; -1 (numpy's pairwise
 *       summation), -1 when there are none.</li>
 * </ul>
 */
public final class CocoEval {
    private CocoEval() {}

    /** The bit of {@code 1 - 1e-10} that caps an IoU threshold (a threshold of 1 still matches IoU ~1). */
    private static final double MAX_IOU_THR = 1 - 1e-10;
    /** numpy's {@code np.spacing(1)} = 2^-52, added to the precision's denominator. */
    private static final double EPS = Math.ulp(1.0);

    /**
     * An area range; a box's area must lie in {@code [min, max]}, both bounds inclusive.
     *
     * @param label {@code all}, {@code small}, {@code medium}, {@code large} by default; the summary looks
     *              ranges up by these labels
     */
    public record AreaRange(String label, double min, double max) {
        public AreaRange {
            Objects.requireNonNull(label, "label");
        }
    }

    /**
     * The evaluation parameters, as pycocotools' {@code Params(iouType='bbox')}.
     *
     * @param useCats  evaluate per category (true, COCO's default) or pool all categories per image
     * @param iouThrs  IoU thresholds (T); default {@code np.linspace(0.5, 0.95, 10)} bit for bit
     * @param recThrs  recall thresholds (R); default {@code np.linspace(0, 1, 101)} bit for bit
     * @param maxDets  detections kept per image (and category) (M), sorted ascending by {@link CocoEval#evaluate};
     *                 default {@code [1, 10, 100]}
     * @param areaRng  area ranges (A); default all {@code [0, 1e10]}, small {@code [0, 32²]}, medium
     *                 {@code [32², 96²]}, large {@code [96², 1e10]}
     */
    public record Params(boolean useCats, double[] iouThrs, double[] recThrs, int[] maxDets, List<AreaRange> areaRng) {
        public Params {
            iouThrs = iouThrs.clone();
            recThrs = recThrs.clone();
            maxDets = maxDets.clone();
            areaRng = List.copyOf(areaRng);
            if (iouThrs.length == 0 || recThrs.length == 0 || maxDets.length == 0 || areaRng.isEmpty()) {
                throw new IllegalArgumentException("empty iouThrs, recThrs, maxDets or areaRng");
            }
            for (int m : maxDets) if (m < 0) throw new IllegalArgumentException("negative maxDets " + m);
        }

        /** COCO's defaults for boxes, with {@code useCats} on. */
        public static Params defaults() {
            return new Params(true, linspace(0.5, 0.95, 10), linspace(0.0, 1.0, 101), new int[] {1, 10, 100},
                    List.of(new AreaRange("all", 0, 1e10), new AreaRange("small", 0, 32 * 32),
                            new AreaRange("medium", 32 * 32, 96 * 96), new AreaRange("large", 96 * 96, 1e10)));
        }

        /** These parameters with {@code useCats} set. */
        public Params withUseCats(boolean on) {
            return new Params(on, iouThrs, recThrs, maxDets, areaRng);
        }

        @Override public double[] iouThrs() { return iouThrs.clone(); }
        @Override public double[] recThrs() { return recThrs.clone(); }
        @Override public int[] maxDets() { return maxDets.clone(); }
    }

    /**
     * {@code np.linspace(start, stop, num)} (endpoint included) bit for bit: {@code start + i*step} with
     * {@code step = (stop - start) / (num - 1)}, and exactly {@code stop} last. E.g. the 9th IoU threshold is
     * 0.8999999999999999 and recall threshold {@code i} is {@code i*0.01} (0.35000000000000003 for 35).
     */
    public static double[] linspace(double start, double stop, int num) {
        if (num < 1) throw new IllegalArgumentException("num < 1");
        double[] y = new double[num];
        if (num == 1) {
            y[0] = start;
            return y;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        y[num - 1] = stop;
        return y;
    }

    /**
     * How one detection was matched, in area range 0 ({@code all}) with {@code maxDet = max(maxDets)}
     * (pycocotools' {@code evalImgs} entries of that range: {@code dtIds}, {@code dtMatches},
     * {@code dtIgnore}).
     *
     * @param detectionId the detection's id
     * @param imageId     its image
     * @param categoryId  its category
     * @param score       its score
     * @param matchedGtId per IoU threshold (T): the id of the ground-truth box it matched, 0 for none
     * @param ignored     per IoU threshold (T): ignored (matched to an ignored box, or unmatched and outside
     *                    the area range)
     */
    public record DetectionMatch(long detectionId, long imageId, long categoryId, double score,
                                 long[] matchedGtId, boolean[] ignored) {}

    /**
     * The evaluation's result (pycocotools' {@code eval} dict and {@code stats}). Arrays are flat, row-major.
     * With {@code T, R, A, M} the lengths of the parameters' {@code iouThrs, recThrs, areaRng, maxDets} and
     * {@code K} the number of categories ({@code catIds.length}, or 1 with {@code useCats} off), -1 means "not
     * defined" (no non-ignored ground truth there).
     *
     * @param params           the parameters used ({@code maxDets} sorted)
     * @param imgIds           the evaluated image ids, ascending
     * @param catIds           the ground truth's category ids, ascending
     * @param stats            the 12 summary numbers: AP@[.5:.95], AP@.5, AP@.75, AP small, medium, large
     *                         (maxDets 100), AR@[.5:.95] with maxDets {@code maxDets[0..2]}, AR small, medium,
     *                         large (maxDets {@code maxDets[2]}); -1 when undefined. As in pycocotools the
     *                         first is read at maxDets 100 literally, and areas by label; with fewer than three
     *                         maxDets the last one stands in for a missing {@code maxDets[1]} or {@code [2]}
     * @param perCategoryAp    per category (K, in {@code catIds} order): mean of precision &gt; -1 over all
     *                         IoU thresholds and recall thresholds, area range 0, the last maxDets; -1 if none
     * @param perCategoryAp50  likewise at IoU threshold 0.5 (-1 if 0.5 is not a threshold)
     * @param perCategoryAp75  likewise at IoU threshold 0.75
     * @param precision        (T, R, K, A, M): interpolated precision; index
     *                         {@code (((t*R + r)*K + k)*A + a)*M + m}
     * @param recall           (T, K, A, M): recall; index {@code ((t*K + k)*A + a)*M + m}
     * @param scores           (T, R, K, A, M): score of the detection where each precision was read, 0 past
     *                         the last detection, -1 where precision is -1
     * @param detectionMatches every detection evaluated, in (category, image, descending score) order
     *
     * <p>The arrays are returned as held (not copied): treat them as read-only.
     */
    public record Result(Params params, long[] imgIds, long[] catIds, double[] stats, double[] perCategoryAp,
                         double[] perCategoryAp50, double[] perCategoryAp75, double[] precision, double[] recall,
                         double[] scores, List<DetectionMatch> detectionMatches) {
        /** K: categories in the arrays (1 with {@code useCats} off). */
        public int numCategories() { return params.useCats() ? catIds.length : 1; }

        /** The precision array's shape {@code [T, R, K, A, M]} (also that of {@link #scores}). */
        public int[] precisionShape() {
            return new int[] {params.iouThrs.length, params.recThrs.length, numCategories(),
                    params.areaRng.size(), params.maxDets.length};
        }

        /** The recall array's shape {@code [T, K, A, M]}. */
        public int[] recallShape() {
            return new int[] {params.iouThrs.length, numCategories(), params.areaRng.size(), params.maxDets.length};
        }

        /** {@code precision[t, r, k, a, m]}. */
        public double precision(int t, int r, int k, int a, int m) {
            int[] s = precisionShape();
            return precision[(((t * s[1] + r) * s[2] + k) * s[3] + a) * s[4] + m];
        }

        /** {@code recall[t, k, a, m]}. */
        public double recall(int t, int k, int a, int m) {
            int[] s = recallShape();
            return recall[((t * s[1] + k) * s[2] + a) * s[3] + m];
        }
    }

    /** One image's (and category's) matches in one area range (pycocotools' {@code evaluateImg}). */
    private record ImgEval(CocoDetections.Detection[] dets, long[] dtm, boolean[] dtIg, int gtNotIgnored) {}

    /**
     * Evaluates detections against ground truth.
     *
     * @throws UserInputException if a detection's image is not an image of the ground truth (as {@code loadRes}
     *     refuses it)
     */
    public static Result evaluate(CocoGroundTruth gt, CocoDetections dt, Params params) {
        int[] maxDets = params.maxDets.clone();
        Arrays.sort(maxDets);
        Params p = new Params(params.useCats, params.iouThrs, params.recThrs, maxDets, params.areaRng);
        long[] imgIds = gt.images().stream().mapToLong(CocoGroundTruth.Image::id).distinct().sorted().toArray();
        long[] catIds = new TreeSet<>(gt.categories().stream().map(CocoGroundTruth.Category::id).toList())
                .stream().mapToLong(Long::longValue).toArray();
        Map<Long, Integer> imgIndex = index(imgIds), catIndex = index(catIds);
        int nI = imgIds.length, nC = catIds.length;

        // Per (category, image), in file order.
        List<List<CocoGroundTruth.Annotation>> gts = buckets(nC * nI);
        List<List<CocoDetections.Detection>> dts = buckets(nC * nI);
        for (CocoGroundTruth.Annotation a : gt.annotations()) {
            Integer i = imgIndex.get(a.imageId()), c = catIndex.get(a.categoryId());
            if (i != null && c != null) gts.get(c * nI + i).add(a);
        }
        for (CocoDetections.Detection d : dt.detections()) {
            Integer i = imgIndex.get(d.imageId());
            if (i == null) {
                throw new UserInputException("detection " + d.id() + ": image " + d.imageId()
                        + " is not in the ground truth");
            }
            Integer c = catIndex.get(d.categoryId());
            if (c != null) dts.get(c * nI + i).add(d);
        }

        int K = p.useCats ? nC : 1, A = p.areaRng.size();
        ImgEval[][][] evalImgs = new ImgEval[K][A][nI];
        for (int k = 0; k < K; k++) {
            for (int i = 0; i < nI; i++) {
                List<CocoGroundTruth.Annotation> g;
                List<CocoDetections.Detection> d;
                if (p.useCats) {
                    g = gts.get(k * nI + i);
                    d = dts.get(k * nI + i);
                } else {
                    g = new ArrayList<>();
                    d = new ArrayList<>();
                    for (int c = 0; c < nC; c++) {
                        g.addAll(gts.get(c * nI + i));
                        d.addAll(dts.get(c * nI + i));
                    }
                }
                evaluateImage(g, d, p, evalImgs, k, i);
            }
        }

        int T = p.iouThrs.length, R = p.recThrs.length, M = maxDets.length;
        double[] precision = new double[T * R * K * A * M], scores = new double[precision.length];
        double[] recall = new double[T * K * A * M];
        Arrays.fill(precision, -1);
        Arrays.fill(scores, -1);
        Arrays.fill(recall, -1);
        for (int k = 0; k < K; k++) {
            for (int a = 0; a < A; a++) {
                for (int m = 0; m < M; m++) {
                    accumulate(evalImgs[k][a], p, maxDets[m], k, a, m, K, precision, recall, scores);
                }
            }
        }

        List<DetectionMatch> matches = new ArrayList<>();
        for (int k = 0; k < K; k++) {
            for (int i = 0; i < nI; i++) {
                ImgEval e = evalImgs[k][0][i];
                if (e == null) continue;
                int D = e.dets.length;
                for (int j = 0; j < D; j++) {
                    long[] mt = new long[T];
                    boolean[] ig = new boolean[T];
                    for (int t = 0; t < T; t++) {
                        mt[t] = e.dtm[t * D + j];
                        ig[t] = e.dtIg[t * D + j];
                    }
                    CocoDetections.Detection det = e.dets[j];
                    matches.add(new DetectionMatch(det.id(), det.imageId(), det.categoryId(), det.score(), mt, ig));
                }
            }
        }

        Result partial = new Result(p, imgIds, catIds, null, null, null, null, precision, recall, scores, matches);
        double[] stats = summarize(partial);
        double[][] perCat = perCategory(partial);
        return new Result(p, imgIds, catIds, stats, perCat[0], perCat[1], perCat[2], precision, recall, scores,
                List.copyOf(matches));
    }

    private static Map<Long, Integer> index(long[] ids) {
        Map<Long, Integer> m = new HashMap<>();
        for (int i = 0; i < ids.length; i++) m.put(ids[i], i);
        return m;
    }

    private static <T> List<List<T>> buckets(int n) {
        List<List<T>> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(new ArrayList<>());
        return out;
    }

    /**
     * IoU of a detection and a ground-truth box, both {@code [x, y, w, h]}, as pycocotools' {@code bbIou}:
     * 0 when the intersection's width or height is &le; 0; the union is the detection's area alone when the
     * ground truth is a crowd.
     */
    public static double iou(double[] det, double[] gt, boolean gtCrowd) {
        double w = Math.min(det[2] + det[0], gt[2] + gt[0]) - Math.max(det[0], gt[0]);
        if (w <= 0) return 0;
        double h = Math.min(det[3] + det[1], gt[3] + gt[1]) - Math.max(det[1], gt[1]);
        if (h <= 0) return 0;
        double inter = w * h;
        double da = det[2] * det[3];
        double union = gtCrowd ? da : da + gt[2] * gt[3] - inter;
        return inter / union;
    }

    /** Matches one image (and category) in every area range; leaves null where it has neither gt nor dets. */
    private static void evaluateImage(List<CocoGroundTruth.Annotation> g, List<CocoDetections.Detection> d,
                                      Params p, ImgEval[][][] out, int k, int i) {
        if (g.isEmpty() && d.isEmpty()) return;
        double[] score = new double[d.size()];
        for (int j = 0; j < score.length; j++) score[j] = d.get(j).score();
        int[] order = stableOrderDescending(score);
        int D = Math.min(order.length, p.maxDets[p.maxDets.length - 1]), G = g.size();
        CocoDetections.Detection[] dets = new CocoDetections.Detection[D];
        for (int j = 0; j < D; j++) dets[j] = d.get(order[j]);
        double[] ious = new double[D * G]; // [det][gt], gt in file order
        for (int j = 0; j < D; j++) {
            for (int q = 0; q < G; q++) ious[j * G + q] = iou(dets[j].bbox(), g.get(q).bbox(), g.get(q).iscrowd());
        }
        int T = p.iouThrs.length;
        for (int a = 0; a < p.areaRng.size(); a++) {
            AreaRange rng = p.areaRng.get(a);
            // Ground truth, not ignored first (stable).
            int[] gtind = new int[G];
            int n = 0;
            for (int q = 0; q < G; q++) if (!ignored(g.get(q), rng)) gtind[n++] = q;
            int notIgnored = n;
            for (int q = 0; q < G; q++) if (ignored(g.get(q), rng)) gtind[n++] = q;
            long[] dtm = new long[T * D];
            boolean[] dtIg = new boolean[T * D];
            if (D > 0 && G > 0) {
                long[] gtm = new long[G];
                for (int t = 0; t < T; t++) {
                    Arrays.fill(gtm, 0);
                    for (int j = 0; j < D; j++) {
                        double best = Math.min(p.iouThrs[t], MAX_IOU_THR);
                        int m = -1;
                        for (int s = 0; s < G; s++) {
                            CocoGroundTruth.Annotation ann = g.get(gtind[s]);
                            if (gtm[s] > 0 && !ann.iscrowd()) continue;
                            if (m > -1 && m < notIgnored && s >= notIgnored) break;
                            double v = ious[j * G + gtind[s]];
                            if (v < best) continue;
                            best = v;
                            m = s;
                        }
                        if (m == -1) continue;
                        dtIg[t * D + j] = m >= notIgnored;
                        dtm[t * D + j] = g.get(gtind[m]).id();
                        gtm[m] = dets[j].id();
                    }
                }
            }
            for (int j = 0; j < D; j++) {
                double area = dets[j].area();
                if (area < rng.min() || area > rng.max()) {
                    for (int t = 0; t < T; t++) if (dtm[t * D + j] == 0) dtIg[t * D + j] = true;
                }
            }
            out[k][a][i] = new ImgEval(dets, dtm, dtIg, notIgnored);
        }
    }

    private static boolean ignored(CocoGroundTruth.Annotation g, AreaRange r) {
        return g.iscrowd() || g.area() < r.min() || g.area() > r.max();
    }

    /** pycocotools' {@code accumulate} for one (category, area range, maxDet). */
    private static void accumulate(ImgEval[] images, Params p, int maxDet, int k, int a, int m, int K,
                                   double[] precision, double[] recall, double[] scores) {
        int n = 0, npig = 0;
        boolean any = false;
        for (ImgEval e : images) {
            if (e == null) continue;
            any = true;
            n += Math.min(maxDet, e.dets.length);
            npig += e.gtNotIgnored;
        }
        if (!any || npig == 0) return;
        int T = p.iouThrs.length, R = p.recThrs.length, A = p.areaRng.size(), M = p.maxDets.length;
        double[] sc = new double[n];
        int[] img = new int[n], pos = new int[n];
        int o = 0;
        for (int i = 0; i < images.length; i++) {
            ImgEval e = images[i];
            if (e == null) continue;
            for (int j = 0; j < Math.min(maxDet, e.dets.length); j++, o++) {
                sc[o] = e.dets[j].score();
                img[o] = i;
                pos[o] = j;
            }
        }
        int[] order = stableOrderDescending(sc);
        double[] rc = new double[n], pr = new double[n];
        for (int t = 0; t < T; t++) {
            long tp = 0, fp = 0;
            int nd = 0;
            for (int q = 0; q < n; q++) {
                int s = order[q];
                ImgEval e = images[img[s]];
                int D = e.dets.length, idx = t * D + pos[s];
                boolean ig = e.dtIg[idx], matched = e.dtm[idx] != 0;
                if (matched && !ig) tp++;
                if (!matched && !ig) fp++;
                double tpd = tp, fpd = fp;
                rc[nd] = tpd / npig;
                pr[nd] = tpd / (fpd + tpd + EPS);
                nd++;
            }
            int ri = ((t * K + k) * A + a) * M + m;
            recall[ri] = nd > 0 ? rc[nd - 1] : 0;
            for (int q = nd - 1; q > 0; q--) if (pr[q] > pr[q - 1]) pr[q - 1] = pr[q];
            int q = 0;
            for (int r = 0; r < R; r++) {
                double thr = p.recThrs[r];
                while (q < nd && rc[q] < thr) q++; // searchsorted(rc, thr, 'left'); rc is non-decreasing
                int pi = (((t * R + r) * K + k) * A + a) * M + m;
                if (q < nd) {
                    precision[pi] = pr[q];
                    scores[pi] = sc[order[q]];
                } else {
                    precision[pi] = 0;
                    scores[pi] = 0;
                }
            }
        }
    }

    /**
     * Indices of {@code v} by descending value, ties in index order: {@code np.argsort(-v, kind='mergesort')}
     * for finite values.
     */
    static int[] stableOrderDescending(double[] v) {
        int n = v.length;
        int[] a = new int[n], b = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n; lo += 2 * width) {
                int mid = Math.min(lo + width, n), hi = Math.min(lo + 2 * width, n);
                int x = lo, y = mid, z = lo;
                while (x < mid && y < hi) b[z++] = v[a[y]] > v[a[x]] ? a[y++] : a[x++];
                while (x < mid) b[z++] = a[x++];
                while (y < hi) b[z++] = a[y++];
            }
            int[] tmp = a;
            a = b;
            b = tmp;
        }
        return a;
    }

    /** pycocotools' {@code summarize()} for boxes (12 numbers). */
    private static double[] summarize(Result res) {
        Params p = res.params();
        int[] md = p.maxDets;
        double[] s = new double[12];
        s[0] = summarizeOne(res, true, null, "all", 100);
        s[1] = summarizeOne(res, true, 0.5, "all", md[Math.min(2, md.length - 1)]);
        s[2] = summarizeOne(res, true, 0.75, "all", md[Math.min(2, md.length - 1)]);
        s[3] = summarizeOne(res, true, null, "small", md[Math.min(2, md.length - 1)]);
        s[4] = summarizeOne(res, true, null, "medium", md[Math.min(2, md.length - 1)]);
        s[5] = summarizeOne(res, true, null, "large", md[Math.min(2, md.length - 1)]);
        s[6] = summarizeOne(res, false, null, "all", md[0]);
        s[7] = summarizeOne(res, false, null, "all", md[Math.min(1, md.length - 1)]);
        s[8] = summarizeOne(res, false, null, "all", md[Math.min(2, md.length - 1)]);
        s[9] = summarizeOne(res, false, null, "small", md[Math.min(2, md.length - 1)]);
        s[10] = summarizeOne(res, false, null, "medium", md[Math.min(2, md.length - 1)]);
        s[11] = summarizeOne(res, false, null, "large", md[Math.min(2, md.length - 1)]);
        return s;
    }

    /** IoU threshold indices equal to {@code thr} (all of them when {@code thr} is null). */
    private static int[] iouIndices(Params p, Double thr) {
        List<Integer> out = new ArrayList<>();
        for (int t = 0; t < p.iouThrs.length; t++) if (thr == null || p.iouThrs[t] == thr) out.add(t);
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static double summarizeOne(Result res, boolean ap, Double iouThr, String area, int maxDet) {
        Params p = res.params();
        int a = -1, m = -1;
        for (int i = 0; i < p.areaRng.size() && a < 0; i++) if (p.areaRng.get(i).label().equals(area)) a = i;
        for (int i = 0; i < p.maxDets.length && m < 0; i++) if (p.maxDets[i] == maxDet) m = i;
        if (a < 0 || m < 0) return -1;
        int[] ts = iouIndices(p, iouThr);
        int K = res.numCategories();
        double[] vals = new double[ts.length * (ap ? p.recThrs.length : 1) * K];
        int n = 0;
        for (int t : ts) {
            if (ap) {
                for (int r = 0; r < p.recThrs.length; r++) {
                    for (int k = 0; k < K; k++) {
                        double v = res.precision(t, r, k, a, m);
                        if (v > -1) vals[n++] = v;
                    }
                }
            } else {
                for (int k = 0; k < K; k++) {
                    double v = res.recall(t, k, a, m);
                    if (v > -1) vals[n++] = v;
                }
            }
        }
        return n == 0 ? -1 : numpySum(vals, 0, n) / n;
    }

    /** Per category: AP over all IoU thresholds, at 0.5 and at 0.75 (area range 0, the last maxDets). */
    private static double[][] perCategory(Result res) {
        Params p = res.params();
        int K = res.numCategories(), m = p.maxDets.length - 1;
        double[][] out = new double[3][K];
        Double[] thr = {null, 0.5, 0.75};
        for (int w = 0; w < 3; w++) {
            int[] ts = iouIndices(p, thr[w]);
            for (int k = 0; k < K; k++) {
                double[] vals = new double[ts.length * p.recThrs.length];
                int n = 0;
                for (int t : ts) {
                    for (int r = 0; r < p.recThrs.length; r++) {
                        double v = res.precision(t, r, k, 0, m);
                        if (v > -1) vals[n++] = v;
                    }
                }
                out[w][k] = n == 0 ? -1 : numpySum(vals, 0, n) / n;
            }
        }
        return out;
    }

    /**
     * numpy's float64 {@code add.reduce} of a contiguous array: pairwise summation (blocks of at most 128
     * summed with 8 accumulators), starting from the identity 0; so {@code np.mean} is this over n.
     */
    static double numpySum(double[] a, int off, int n) {
        return 0.0 + pairwise(a, off, n);
    }

    private static double pairwise(double[] a, int off, int n) {
        if (n < 8) {
            double res = 0.;
            for (int i = 0; i < n; i++) res += a[off + i];
            return res;
        } else if (n <= 128) {
            double r0 = a[off], r1 = a[off + 1], r2 = a[off + 2], r3 = a[off + 3];
            double r4 = a[off + 4], r5 = a[off + 5], r6 = a[off + 6], r7 = a[off + 7];
            int i;
            for (i = 8; i < n - (n % 8); i += 8) {
                r0 += a[off + i];
                r1 += a[off + i + 1];
                r2 += a[off + i + 2];
                r3 += a[off + i + 3];
                r4 += a[off + i + 4];
                r5 += a[off + i + 5];
                r6 += a[off + i + 6];
                r7 += a[off + i + 7];
            }
            double res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++) res += a[off + i];
            return res;
        } else {
            int n2 = n / 2;
            n2 -= n2 % 8;
            return pairwise(a, off, n2) + pairwise(a, off + n2, n - n2);
        }
    }
}
