package dev.frcnn.eval;

import dev.frcnn.error.UserInputException;

import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.RandomAccess;

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

    /**
     * Evaluates detections against ground truth.
     *
     * <p>Work and memory are linear in the input: ground truth and detections are grouped per (category, image)
     * once (a stable counting sort, so file order is kept inside each group), the IoUs of a group are computed
     * once and shared by the area ranges, and the accumulation sorts each category's detections once and reads
     * the smaller {@code maxDets} as the stable subsequence of that order. {@link Result#detectionMatches} is made
     * from compact arrays when read.
     *
     * @throws UserInputException if a detection's image is not an image of the ground truth (as {@code loadRes}
     *     refuses it)
     */
    public static Result evaluate(CocoGroundTruth gt, CocoDetections dt, Params params) {
        int[] maxDets = params.maxDets.clone();
        Arrays.sort(maxDets);
        Params p = new Params(params.useCats, params.iouThrs, params.recThrs, maxDets, params.areaRng);
        long[] imgIds = gt.images().stream().mapToLong(CocoGroundTruth.Image::id).distinct().sorted().toArray();
        long[] catIds = gt.categories().stream().mapToLong(CocoGroundTruth.Category::id).distinct().sorted().toArray();
        int nI = imgIds.length, nC = catIds.length;
        int K = p.useCats ? nC : 1, A = p.areaRng.size(), T = p.iouThrs.length;

        // Ground truth and detections as primitive arrays, keyed by group: (category, image) with useCats, else
        // (image, category), so that the groups of one image are adjacent when categories are pooled.
        List<CocoGroundTruth.Annotation> anns = gt.annotations();
        int nG = anns.size();
        double[] gBox = new double[4 * nG], gArea = new double[nG];
        long[] gId = new long[nG];
        boolean[] gCrowd = new boolean[nG];
        int[] gKey = new int[nG];
        for (int q = 0; q < nG; q++) {
            CocoGroundTruth.Annotation a = anns.get(q);
            int i = Arrays.binarySearch(imgIds, a.imageId()), c = Arrays.binarySearch(catIds, a.categoryId());
            gKey[q] = i < 0 || c < 0 ? -1 : groupKey(p.useCats, c, i, nC, nI);
            System.arraycopy(a.bbox(), 0, gBox, 4 * q, 4);
            gArea[q] = a.area();
            gId[q] = a.id();
            gCrowd[q] = a.iscrowd();
        }
        List<CocoDetections.Detection> dets = dt.detections();
        int nD = dets.size();
        double[] dBox = new double[4 * nD], dArea = new double[nD], dScore = new double[nD];
        long[] dId = new long[nD];
        int[] dKey = new int[nD];
        for (int j = 0; j < nD; j++) {
            CocoDetections.Detection d = dets.get(j);
            int i = Arrays.binarySearch(imgIds, d.imageId());
            if (i < 0) {
                throw new UserInputException("detection " + d.id() + ": image " + d.imageId()
                        + " is not in the ground truth");
            }
            int c = Arrays.binarySearch(catIds, d.categoryId());
            dKey[j] = c < 0 ? -1 : groupKey(p.useCats, c, i, nC, nI);
            System.arraycopy(d.bbox(), 0, dBox, 4 * j, 4);
            dArea[j] = d.area();
            dScore[j] = d.score();
            dId[j] = d.id();
        }
        int nKeys = Math.multiplyExact(nC, nI);
        int[] gStart = new int[nKeys + 1], dStart = new int[nKeys + 1];
        int[] gOrder = groupBy(gKey, gStart), dOrder = groupBy(dKey, dStart);

        // Group (k, i) is the key range [lo, hi): one key with useCats, the image's nC keys without.
        int maxDet = maxDets[maxDets.length - 1];
        int N = 0;
        for (int k = 0; k < K; k++) {
            for (int i = 0; i < nI; i++) {
                int lo = p.useCats ? k * nI + i : i * nC, hi = p.useCats ? lo + 1 : lo + nC;
                N += Math.min(maxDet, dStart[hi] - dStart[lo]);
            }
        }
        Evaluated ev = new Evaluated(N, A, T);
        int[] segment = new int[K + 1];
        long[] npig = new long[K * A];
        Scratch scratch = new Scratch();
        for (int k = 0; k < K; k++) {
            for (int i = 0; i < nI; i++) {
                int lo = p.useCats ? k * nI + i : i * nC, hi = p.useCats ? lo + 1 : lo + nC;
                int g0 = gStart[lo], g1 = gStart[hi], d0 = dStart[lo], d1 = dStart[hi];
                if (g0 == g1 && d0 == d1) continue; // pycocotools' evalImgs entry is None
                evaluateImage(gOrder, g0, g1, dOrder, d0, d1, gBox, gArea, gId, gCrowd, dBox, dArea, dScore,
                        dId, p, maxDet, ev, scratch);
                for (int a = 0; a < A; a++) {
                    AreaRange rng = p.areaRng.get(a);
                    for (int s = g0; s < g1; s++) if (!ignored(gCrowd[gOrder[s]], gArea[gOrder[s]], rng)) npig[k * A + a]++;
                }
            }
            segment[k + 1] = ev.n;
        }

        int R = p.recThrs.length, M = maxDets.length;
        double[] precision = new double[T * R * K * A * M], scores = new double[precision.length];
        double[] recall = new double[T * K * A * M];
        Arrays.fill(precision, -1);
        Arrays.fill(scores, -1);
        Arrays.fill(recall, -1);
        for (int k = 0; k < K; k++) accumulate(ev, segment[k], segment[k + 1], npig, p, k, K, precision, recall, scores);

        List<DetectionMatch> matches = new MatchList(ev, T, dets, gId);
        Result partial = new Result(p, imgIds, catIds, null, null, null, null, precision, recall, scores, matches);
        double[] stats = summarize(partial);
        double[][] perCat = perCategory(partial);
        return new Result(p, imgIds, catIds, stats, perCat[0], perCat[1], perCat[2], precision, recall, scores,
                matches);
    }

    private static int groupKey(boolean useCats, int c, int i, int nC, int nI) {
        return useCats ? c * nI + i : i * nC + c;
    }

    /**
     * A stable counting sort: the indices of {@code key} (entries of key -1 left out) ordered by key, file order
     * within a key; {@code start[key]} is where a key's run begins ({@code start} has one entry per key + 1).
     */
    private static int[] groupBy(int[] key, int[] start) {
        int n = 0;
        for (int v : key) {
            if (v >= 0) {
                start[v + 1]++;
                n++;
            }
        }
        for (int v = 1; v < start.length; v++) start[v] += start[v - 1];
        int[] next = Arrays.copyOf(start, start.length - 1), out = new int[n];
        for (int q = 0; q < key.length; q++) if (key[q] >= 0) out[next[key[q]]++] = q;
        return out;
    }

    /**
     * Every evaluated detection (each group's first {@code max(maxDets)} by score), in (category, image,
     * descending score) order: what pycocotools keeps in {@code evalImgs}, as flat arrays.
     */
    private static final class Evaluated {
        /** Entries filled so far. */
        int n;
        /** Per entry: the detection's index in the results list and its rank in its group (image and category). */
        final int[] det, pos;
        final double[] score;
        /**
         * Per area range, IoU threshold and entry ({@code (a*T + t)*N + e}): {@link #IGNORED}, {@link #TP} or
         * {@link #FP}.
         */
        final byte[] flag;
        /** Per IoU threshold and entry ({@code t*N + e}), area range 0: the matched ground truth's index, or -1. */
        final int[] match0;
        final int N;

        Evaluated(int N, int A, int T) {
            this.N = N;
            det = new int[N];
            pos = new int[N];
            score = new double[N];
            flag = new byte[Math.multiplyExact(A * T, N)];
            match0 = new int[Math.multiplyExact(T, N)];
        }
    }

    private static final byte IGNORED = 0, TP = 1, FP = 2;

    /** Buffers reused from one group to the next. */
    private static final class Scratch {
        double[] ious = new double[0];
        int[] gtind = new int[0], order = new int[0], merge = new int[0];
        double[] rowMax = new double[0];
        long[] gtm = new long[0];
        boolean[] crowd = new boolean[0];

        void fit(int dets, int gts) {
            if (ious.length < dets * gts) ious = new double[Math.max(dets * gts, 2 * ious.length)];
            if (gtind.length < gts) {
                gtind = new int[Math.max(gts, 2 * gtind.length)];
                gtm = new long[gtind.length];
                crowd = new boolean[gtind.length];
            }
            if (order.length < dets) {
                order = new int[Math.max(dets, 2 * order.length)];
                merge = new int[order.length];
                rowMax = new double[order.length];
            }
        }
    }

    /**
     * IoU of a detection and a ground-truth box, both {@code [x, y, w, h]}, as pycocotools' {@code bbIou}:
     * 0 when the intersection's width or height is &le; 0; the union is the detection's area alone when the
     * ground truth is a crowd.
     */
    public static double iou(double[] det, double[] gt, boolean gtCrowd) {
        return iou(det, 0, gt, 0, gtCrowd);
    }

    private static double iou(double[] det, int d, double[] gt, int g, boolean gtCrowd) {
        double w = Math.min(det[d + 2] + det[d], gt[g + 2] + gt[g]) - Math.max(det[d], gt[g]);
        if (w <= 0) return 0;
        double h = Math.min(det[d + 3] + det[d + 1], gt[g + 3] + gt[g + 1]) - Math.max(det[d + 1], gt[g + 1]);
        if (h <= 0) return 0;
        double inter = w * h;
        double da = det[d + 2] * det[d + 3];
        double union = gtCrowd ? da : da + gt[g + 2] * gt[g + 3] - inter;
        return inter / union;
    }

    /**
     * Matches one image (and category) in every area range (pycocotools' {@code evaluateImg}): ground truth
     * {@code gOrder[g0..g1)}, detections {@code dOrder[d0..d1)}, both in file order; appends the group's first
     * {@code maxDet} detections by score to {@code ev}.
     */
    private static void evaluateImage(int[] gOrder, int g0, int g1, int[] dOrder, int d0, int d1,
                                      double[] gBox, double[] gArea, long[] gId, boolean[] gCrowd,
                                      double[] dBox, double[] dArea, double[] dScore, long[] dId,
                                      Params p, int maxDet, Evaluated ev, Scratch sc) {
        int G = g1 - g0, Dall = d1 - d0, D = Math.min(Dall, maxDet);
        sc.fit(Dall, G);
        int[] order = sc.order;
        System.arraycopy(dOrder, d0, order, 0, Dall);
        sortByScoreDescending(order, Dall, dScore, sc.merge);
        int e0 = ev.n, N = ev.N, T = p.iouThrs.length, A = p.areaRng.size();
        for (int j = 0; j < D; j++) {
            int d = order[j];
            ev.det[e0 + j] = d;
            ev.pos[e0 + j] = j;
            ev.score[e0 + j] = dScore[d];
        }
        ev.n += D;
        if (G == 0) {
            // Nothing to match: every detection is a false positive, or ignored outside the area range.
            for (int a = 0; a < A; a++) {
                AreaRange rng = p.areaRng.get(a);
                for (int j = 0; j < D; j++) {
                    double area = dArea[order[j]];
                    byte f = area < rng.min() || area > rng.max() ? IGNORED : FP;
                    for (int t = 0; t < T; t++) ev.flag[(a * T + t) * N + e0 + j] = f;
                }
            }
            for (int t = 0; t < T; t++) Arrays.fill(ev.match0, t * N + e0, t * N + e0 + D, -1);
            return;
        }
        double[] ious = sc.ious; // [det][gt], gt in file order
        double[] rowMax = sc.rowMax; // a detection below the threshold with every box matches none
        for (int j = 0; j < D; j++) {
            int d = order[j];
            double mx = Double.NEGATIVE_INFINITY;
            for (int q = 0; q < G; q++) {
                int g = gOrder[g0 + q];
                double v = iou(dBox, 4 * d, gBox, 4 * g, gCrowd[g]);
                ious[j * G + q] = v;
                mx = Math.max(mx, v); // NaN stays NaN, and then the full scan runs
            }
            rowMax[j] = mx;
        }
        int[] gtind = sc.gtind;
        long[] gtm = sc.gtm;
        boolean[] crowd = sc.crowd;
        for (int a = 0; a < A; a++) {
            AreaRange rng = p.areaRng.get(a);
            // Ground truth, not ignored first (stable).
            int n = 0;
            for (int q = 0; q < G; q++) if (!ignored(gCrowd[gOrder[g0 + q]], gArea[gOrder[g0 + q]], rng)) gtind[n++] = q;
            int notIgnored = n;
            for (int q = 0; q < G; q++) if (ignored(gCrowd[gOrder[g0 + q]], gArea[gOrder[g0 + q]], rng)) gtind[n++] = q;
            for (int s = 0; s < G; s++) crowd[s] = gCrowd[gOrder[g0 + gtind[s]]];
            for (int t = 0; t < T; t++) {
                int base = (a * T + t) * N + e0;
                for (int s = 0; s < G; s++) gtm[s] = 0;
                double thr = Math.min(p.iouThrs[t], MAX_IOU_THR);
                for (int j = 0; j < D; j++) {
                    int m = -1;
                    double best = thr;
                    if (!(rowMax[j] < thr)) {
                        for (int s = 0; s < G; s++) {
                            if (gtm[s] > 0 && !crowd[s]) continue;
                            if (m > -1 && m < notIgnored && s >= notIgnored) break;
                            double v = ious[j * G + gtind[s]];
                            if (v < best) continue;
                            best = v;
                            m = s;
                        }
                    }
                    int d = order[j];
                    boolean outside = dArea[d] < rng.min() || dArea[d] > rng.max();
                    int g = m == -1 ? -1 : gOrder[g0 + gtind[m]];
                    // pycocotools stores the matched id (dtm) and reads 0 as "unmatched".
                    boolean matched = g >= 0 && gId[g] != 0;
                    boolean ig = g >= 0 && m >= notIgnored;
                    if (!matched && outside) ig = true;
                    ev.flag[base + j] = ig ? IGNORED : matched ? TP : FP;
                    if (a == 0) ev.match0[t * N + e0 + j] = g;
                    if (g >= 0) gtm[m] = dId[d];
                }
            }
        }
    }

    /**
     * Sorts {@code idx[0..n)} by descending {@code key[idx]}, stably (equal keys keep their order): the order of
     * {@code np.argsort(-key, kind='mergesort')}. Insertion sort for short runs, merging above.
     */
    private static void sortByScoreDescending(int[] idx, int n, double[] key, int[] tmp) {
        if (n <= 32) {
            for (int j = 1; j < n; j++) {
                int x = idx[j];
                double v = key[x];
                int i = j - 1;
                while (i >= 0 && key[idx[i]] < v) {
                    idx[i + 1] = idx[i];
                    i--;
                }
                idx[i + 1] = x;
            }
            return;
        }
        int[] a = idx, b = tmp;
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n; lo += 2 * width) {
                int mid = Math.min(lo + width, n), hi = Math.min(lo + 2 * width, n);
                int x = lo, y = mid, z = lo;
                while (x < mid && y < hi) b[z++] = key[a[y]] > key[a[x]] ? a[y++] : a[x++];
                while (x < mid) b[z++] = a[x++];
                while (y < hi) b[z++] = a[y++];
            }
            int[] t = a;
            a = b;
            b = t;
        }
        if (a != idx) System.arraycopy(a, 0, idx, 0, n);
    }

    private static boolean ignored(boolean crowd, double area, AreaRange r) {
        return crowd || area < r.min() || area > r.max();
    }

    /**
     * pycocotools' {@code accumulate} for one category: the entries {@code [s0, s1)} of {@code ev}, every area
     * range and maxDet. The detections are sorted by descending score once (stable, so ties keep image order
     * and then rank, as the reference's concatenation); a smaller maxDet keeps the entries of rank below it, in
     * that same order (a stable sort of a subsequence is the subsequence of the stable sort).
     *
     * <p>The reference computes {@code rc} and {@code pr} at every detection, makes {@code pr} non-increasing
     * from the end and reads it at {@code searchsorted(rc, recThrs, 'left')}. Those reads land on the first
     * detection (recall 0 there unless it is a true positive) or on a true positive (recall only grows there),
     * and the envelope at a true positive is the largest {@code pr} of the true positives from it on (after a
     * true positive, false positives and ignored detections only lower {@code pr} or repeat it, as the rounded
     * denominator never shrinks). So the same numbers, bit for bit, come from the true positives alone.
     */
    private static void accumulate(Evaluated ev, int s0, int s1, long[] npig, Params p, int k, int K,
                                   double[] precision, double[] recall, double[] scores) {
        int T = p.iouThrs.length, R = p.recThrs.length, A = p.areaRng.size(), M = p.maxDets.length;
        int n = s1 - s0;
        int[] order = new int[n];
        for (int q = 0; q < n; q++) order[q] = s0 + q;
        sortByScoreDescending(order, n, ev.score, new int[n]);
        int[] sub = new int[n];
        double[] sc = new double[n];
        // Candidate read positions: the first detection, then every true positive.
        int[] at = new int[n + 1];
        double[] rc = new double[n + 1], pr = new double[n + 1];
        for (int m = 0; m < M; m++) {
            int maxDet = p.maxDets[m], nd = 0;
            for (int q = 0; q < n; q++) {
                int e = order[q];
                if (ev.pos[e] < maxDet) {
                    sub[nd] = e;
                    sc[nd++] = ev.score[e];
                }
            }
            for (int a = 0; a < A; a++) {
                long np = npig[k * A + a];
                if (np == 0) continue;
                for (int t = 0; t < T; t++) {
                    int base = (a * T + t) * ev.N;
                    long tp = 0, fp = 0;
                    int c = 0;
                    for (int q = 0; q < nd; q++) {
                        byte f = ev.flag[base + sub[q]];
                        if (f == FP) {
                            fp++;
                        } else if (f == TP) {
                            tp++;
                            double tpd = tp, fpd = fp;
                            at[c] = q;
                            rc[c] = tpd / np;
                            pr[c] = tpd / (fpd + tpd + EPS);
                            c++;
                        }
                        if (c == 0) { // the first detection, not a true positive: rc = pr = 0 there
                            at[0] = 0;
                            rc[0] = 0.0;
                            pr[0] = 0.0;
                            c = 1;
                        }
                    }
                    int ri = ((t * K + k) * A + a) * M + m;
                    recall[ri] = nd > 0 ? (double) tp / np : 0;
                    for (int q = c - 1; q > 0; q--) if (pr[q] > pr[q - 1]) pr[q - 1] = pr[q];
                    int q = 0;
                    for (int r = 0; r < R; r++) {
                        double thr = p.recThrs[r];
                        while (q < c && rc[q] < thr) q++; // searchsorted(rc, thr, 'left') among the candidates
                        int pi = (((t * R + r) * K + k) * A + a) * M + m;
                        if (q < c) {
                            precision[pi] = pr[q];
                            scores[pi] = sc[at[q]];
                        } else {
                            precision[pi] = 0;
                            scores[pi] = 0;
                        }
                    }
                }
            }
        }
    }

    /** {@link Result#detectionMatches}: each {@link DetectionMatch} made from {@link Evaluated} when read. */
    private static final class MatchList extends AbstractList<DetectionMatch> implements RandomAccess {
        private final Evaluated ev;
        private final int T;
        private final List<CocoDetections.Detection> dets;
        private final long[] gId;

        MatchList(Evaluated ev, int T, List<CocoDetections.Detection> dets, long[] gId) {
            this.ev = ev;
            this.T = T;
            this.dets = dets;
            this.gId = gId;
        }

        @Override
        public DetectionMatch get(int index) {
            Objects.checkIndex(index, ev.N);
            long[] mt = new long[T];
            boolean[] ig = new boolean[T];
            for (int t = 0; t < T; t++) {
                int g = ev.match0[t * ev.N + index];
                mt[t] = g < 0 ? 0 : gId[g];
                ig[t] = ev.flag[t * ev.N + index] == IGNORED;
            }
            CocoDetections.Detection d = dets.get(ev.det[index]);
            return new DetectionMatch(d.id(), d.imageId(), d.categoryId(), d.score(), mt, ig);
        }

        @Override
        public int size() {
            return ev.N;
        }
    }

    /**
     * Indices of {@code v} by descending value, ties in index order: {@code np.argsort(-v, kind='mergesort')}
     * for finite values.
     */
    static int[] stableOrderDescending(double[] v) {
        int n = v.length;
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        sortByScoreDescending(idx, n, v, new int[n]);
        return idx;
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
