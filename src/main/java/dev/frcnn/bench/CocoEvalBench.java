package dev.frcnn.bench;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.frcnn.eval.CocoDetections;
import dev.frcnn.eval.CocoEval;
import dev.frcnn.eval.CocoGroundTruth;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The COCO evaluation benchmark ({@code frcnn bench --what coco-eval}): a synthetic input of COCO val2017's size
 * (5,000 images, 36,000 ground-truth boxes, 80 categories with COCO's ids, 100 detections per image), written as a
 * COCO instances JSON and a results JSON so that pycocotools can evaluate the same files
 * ({@code tools/bench/pycocotools_time.py}), and the time of {@link CocoEval#evaluate} on them.
 *
 * <p>The input is deterministic (a fixed seed; the same files byte for byte on every run). Its make-up:
 * <ul>
 *   <li>Images: ids distinct, non-contiguous, in random file order; 640 pixels on the long side, 360 to 640 on
 *       the short one. About 1% have no ground truth (COCO val2017 has 48 such images).</li>
 *   <li>Ground truth: a skewed count per image (mean 7.2, up to 90), each image drawing its boxes from one to a few
 *       categories of a skewed category distribution; sizes about 41% small, 34% medium, 25% large by box area;
 *       the {@code area} field (the segmentation area in COCO) is 40-90% of {@code w*h}, so it decides the area
 *       range differently from the box; about 1% are crowd regions. Coordinates have two decimals, as COCO's.</li>
 *   <li>Detections: exactly 100 per image: about 85% of the non-crowd boxes found (jittered copy, some with a
 *       duplicate, 5% with a wrong category), the rest false positives (near a box or anywhere, in one of the
 *       image's categories or any), scores with four decimals (so some tie).</li>
 * </ul>
 */
public final class CocoEvalBench {
    private CocoEvalBench() {}

    /** The size of COCO val2017, as the speed target names it. */
    public static final int IMAGES = 5000, BOXES = 36000, DETS_PER_IMAGE = 100;
    /** The seed of the benchmark's input. */
    public static final long SEED = 2017;
    /** The synthetic files' names inside the benchmark directory. */
    public static final String GT_FILE = "coco_bench_gt.json", DETS_FILE = "coco_bench_dets.json";

    /** COCO's 80 category ids (1..90 without 12, 26, 29, 30, 45, 66, 68, 69, 71, 83). */
    static final long[] COCO_CATEGORY_IDS = cocoCategoryIds();

    private static long[] cocoCategoryIds() {
        long[] gaps = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83};
        long[] out = new long[80];
        int n = 0;
        for (long id = 1; id <= 90; id++) if (Arrays.binarySearch(gaps, id) < 0) out[n++] = id;
        return out;
    }

    /**
     * Writes the synthetic ground truth ({@link #GT_FILE}) and results ({@link #DETS_FILE}) into {@code dir}
     * (created if missing), overwriting them.
     *
     * @param dir          the directory
     * @param images       number of images ({@code >= 1})
     * @param boxes        total number of ground-truth boxes ({@code >= 0}, at most 90 per image)
     * @param detsPerImage detections per image ({@code >= 0})
     * @param seed         the random seed; the same arguments give the same files byte for byte
     * @throws UncheckedIOException if the files cannot be written
     * @throws IllegalArgumentException for counts out of range
     */
    public static void generate(Path dir, int images, int boxes, int detsPerImage, long seed) {
        if (images < 1 || boxes < 0 || detsPerImage < 0 || boxes > 90L * images) {
            throw new IllegalArgumentException("need images >= 1, 0 <= boxes <= 90 * images, detsPerImage >= 0");
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        int nCat = COCO_CATEGORY_IDS.length;
        // Category frequencies: Zipf-like, as COCO's (person is about a quarter of all boxes).
        double[] catCdf = new double[nCat];
        double acc = 0;
        for (int c = 0; c < nCat; c++) catCdf[c] = acc += 1.0 / Math.pow(c + 1, 0.9);
        for (int c = 0; c < nCat; c++) catCdf[c] /= acc;
        int[] catRank = shuffled(nCat, rnd); // which COCO id gets which frequency rank

        long[] imageIds = new long[images];
        int[] width = new int[images], height = new int[images];
        java.util.HashSet<Long> used = new java.util.HashSet<>();
        for (int i = 0; i < images; i++) {
            long id;
            do id = 1 + rnd.nextInt(600_000); while (!used.add(id));
            imageIds[i] = id;
            int shortSide = 360 + rnd.nextInt(281);
            boolean landscape = rnd.nextDouble() < 0.7;
            width[i] = landscape ? 640 : shortSide;
            height[i] = landscape ? shortSide : 640;
        }
        int[] count = gtCounts(images, boxes, rnd);

        try {
            Files.createDirectories(dir);
            JsonFactory f = new JsonFactory();
            List<List<Box>> gtPerImage = new ArrayList<>(images);
            try (JsonGenerator g = f.createGenerator(dir.resolve(GT_FILE).toFile(), JsonEncoding.UTF8)) {
                g.writeStartObject();
                g.writeArrayFieldStart("images");
                for (int i = 0; i < images; i++) {
                    g.writeStartObject();
                    g.writeNumberField("id", imageIds[i]);
                    g.writeNumberField("width", width[i]);
                    g.writeNumberField("height", height[i]);
                    g.writeStringField("file_name", String.format("%012d.jpg", imageIds[i]));
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeArrayFieldStart("annotations");
                long annId = 0;
                for (int i = 0; i < images; i++) {
                    int[] cats = new int[1 + Math.min(5, geometric(rnd, 0.45))];
                    for (int j = 0; j < cats.length; j++) cats[j] = catRank[sample(catCdf, rnd)];
                    List<Box> list = new ArrayList<>(count[i]);
                    for (int q = 0; q < count[i]; q++) {
                        boolean crowd = rnd.nextDouble() < 0.01;
                        Box b = randomBox(width[i], height[i], crowd ? 2 : sizeClass(rnd), cats[rnd.nextInt(cats.length)], rnd);
                        b.crowd = crowd;
                        b.area = round2(b.w * b.h * (0.4 + 0.5 * rnd.nextDouble()));
                        annId += 1 + rnd.nextInt(3);
                        list.add(b);
                        g.writeStartObject();
                        g.writeNumberField("id", annId);
                        g.writeNumberField("image_id", imageIds[i]);
                        g.writeNumberField("category_id", COCO_CATEGORY_IDS[b.cat]);
                        writeBox(g, b);
                        g.writeNumberField("area", b.area);
                        g.writeNumberField("iscrowd", crowd ? 1 : 0);
                        g.writeEndObject();
                    }
                    gtPerImage.add(list);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("categories");
                for (int c = 0; c < nCat; c++) {
                    g.writeStartObject();
                    g.writeNumberField("id", COCO_CATEGORY_IDS[c]);
                    g.writeStringField("name", "category_" + COCO_CATEGORY_IDS[c]);
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeEndObject();
            }
            try (JsonGenerator g = f.createGenerator(dir.resolve(DETS_FILE).toFile(), JsonEncoding.UTF8)) {
                g.writeStartArray();
                for (int i = 0; i < images; i++) {
                    List<Box> gts = gtPerImage.get(i);
                    List<Box> dets = new ArrayList<>(detsPerImage);
                    int[] order = shuffled(gts.size(), rnd);
                    for (int q : order) {
                        Box t = gts.get(q);
                        if (t.crowd || rnd.nextDouble() >= 0.85) continue;
                        int copies = rnd.nextDouble() < 0.25 ? 2 : 1;
                        for (int c = 0; c < copies && dets.size() < detsPerImage; c++) {
                            Box d = jitter(t, width[i], height[i], c == 0 ? 0.08 : 0.2, rnd);
                            d.cat = rnd.nextDouble() < 0.05 ? rnd.nextInt(nCat) : t.cat;
                            d.score = round4(c == 0 ? 0.3 + 0.7 * Math.sqrt(rnd.nextDouble()) : 0.05 + 0.6 * rnd.nextDouble());
                            dets.add(d);
                        }
                    }
                    while (dets.size() < detsPerImage) {
                        Box d;
                        if (!gts.isEmpty() && rnd.nextDouble() < 0.3) {
                            d = jitter(gts.get(rnd.nextInt(gts.size())), width[i], height[i], 0.5, rnd);
                        } else {
                            d = randomBox(width[i], height[i], sizeClass(rnd), 0, rnd);
                        }
                        d.cat = !gts.isEmpty() && rnd.nextDouble() < 0.5 ? gts.get(rnd.nextInt(gts.size())).cat
                                : rnd.nextInt(nCat);
                        double u = rnd.nextDouble();
                        d.score = round4(0.05 + 0.6 * u * u);
                        dets.add(d);
                    }
                    for (int q : shuffled(dets.size(), rnd)) {
                        Box d = dets.get(q);
                        g.writeStartObject();
                        g.writeNumberField("image_id", imageIds[i]);
                        g.writeNumberField("category_id", COCO_CATEGORY_IDS[d.cat]);
                        writeBox(g, d);
                        g.writeNumberField("score", d.score);
                        g.writeEndObject();
                    }
                }
                g.writeEndArray();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the COCO benchmark input in " + dir, e);
        }
    }

    /** A box {@code [x, y, w, h]} with its category index (into {@link #COCO_CATEGORY_IDS}). */
    private static final class Box {
        double x, y, w, h, area, score;
        int cat;
        boolean crowd;
    }

    /** Per-image box counts summing to {@code total}: lognormal-like, 1% empty images, at most 90 each. */
    private static int[] gtCounts(int images, int total, SplittableRandom rnd) {
        int[] n = new int[images];
        boolean[] empty = new boolean[images];
        long sum = 0;
        for (int i = 0; i < images; i++) {
            empty[i] = rnd.nextDouble() < 0.01;
            if (!empty[i]) sum += n[i] = Math.min(90, 1 + (int) Math.exp(1.3 + 0.95 * rnd.nextGaussian()));
        }
        boolean anyOpen = false;
        for (boolean e : empty) anyOpen |= !e;
        if (!anyOpen) empty[0] = false;
        while (sum != total) {
            int i = rnd.nextInt(images);
            if (empty[i] && total > 0) continue;
            if (sum < total && n[i] < 90) {
                n[i]++;
                sum++;
            } else if (sum > total && n[i] > (total > 0 ? 1 : 0)) {
                n[i]--;
                sum--;
            }
        }
        return n;
    }

    /** 0 small (box side 4..32), 1 medium (32..96), 2 large (96..); about 41/34/25%. */
    private static int sizeClass(SplittableRandom rnd) {
        double u = rnd.nextDouble();
        return u < 0.41 ? 0 : u < 0.75 ? 1 : 2;
    }

    private static Box randomBox(int width, int height, int sizeClass, int cat, SplittableRandom rnd) {
        double lo = sizeClass == 0 ? 4 : sizeClass == 1 ? 32 : 96;
        double hi = sizeClass == 0 ? 32 : sizeClass == 1 ? 96 : Math.min(width, height);
        double side = lo + (hi - lo) * rnd.nextDouble();
        double aspect = Math.exp(0.5 * rnd.nextGaussian());
        Box b = new Box();
        b.w = Math.max(1, Math.min(width, side * Math.sqrt(aspect)));
        b.h = Math.max(1, Math.min(height, side / Math.sqrt(aspect)));
        b.x = (width - b.w) * rnd.nextDouble();
        b.y = (height - b.h) * rnd.nextDouble();
        b.cat = cat;
        return clip(b, width, height);
    }

    /** A copy of {@code t} with its position and size jittered by {@code s} times its size. */
    private static Box jitter(Box t, int width, int height, double s, SplittableRandom rnd) {
        Box b = new Box();
        b.w = t.w * Math.exp(s * rnd.nextGaussian());
        b.h = t.h * Math.exp(s * rnd.nextGaussian());
        b.x = t.x + (t.w - b.w) / 2 + s * t.w * rnd.nextGaussian();
        b.y = t.y + (t.h - b.h) / 2 + s * t.h * rnd.nextGaussian();
        return clip(b, width, height);
    }

    /** Clips into the image, at least 1 pixel wide and high, coordinates with two decimals. */
    private static Box clip(Box b, int width, int height) {
        double x1 = Math.max(0, Math.min(width - 1, b.x)), y1 = Math.max(0, Math.min(height - 1, b.y));
        double x2 = Math.max(x1 + 1, Math.min(width, b.x + b.w)), y2 = Math.max(y1 + 1, Math.min(height, b.y + b.h));
        b.x = round2(x1);
        b.y = round2(y1);
        b.w = round2(x2 - x1);
        b.h = round2(y2 - y1);
        return b;
    }

    private static void writeBox(JsonGenerator g, Box b) throws IOException {
        g.writeArrayFieldStart("bbox");
        g.writeNumber(b.x);
        g.writeNumber(b.y);
        g.writeNumber(b.w);
        g.writeNumber(b.h);
        g.writeEndArray();
    }

    private static double round2(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static double round4(double v) {
        return Math.round(v * 10000) / 10000.0;
    }

    private static int geometric(SplittableRandom rnd, double p) {
        int k = 0;
        while (rnd.nextDouble() < p) k++;
        return k;
    }

    private static int sample(double[] cdf, SplittableRandom rnd) {
        double u = rnd.nextDouble();
        for (int i = 0; i < cdf.length; i++) if (u < cdf[i]) return i;
        return cdf.length - 1;
    }

    private static int[] shuffled(int n, SplittableRandom rnd) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /**
     * Times {@link CocoEval#evaluate} with COCO's default parameters ({@code useCats} on) on the calling thread:
     * the files are read once (not timed), then {@code warmup} untimed and {@code reps} timed evaluations run.
     * Each evaluation does what pycocotools' {@code evaluate()} and {@code accumulate()} do, and also the
     * summary (pycocotools' {@code summarize()}, not in the compared time there).
     *
     * @param gtFile   a COCO instances JSON
     * @param detsFile a COCO results JSON
     * @param warmup   untimed evaluations first ({@code >= 0})
     * @param reps     timed evaluations ({@code >= 1})
     * @return keys in this order: {@code what} ("coco-eval"), {@code images}, {@code gt_boxes},
     *     {@code detections}, {@code categories}, {@code read_ms} (reading both files), {@code first_ms} (the
     *     first evaluation, on a cold JIT), {@code reps}, {@code evaluate_ms} (each
     *     timed one), {@code evaluate_ms_min}, {@code evaluate_ms_median}, {@code evaluate_ms_max}, {@code evaluate_cpu_ms} (the
     *     process's CPU time in each timed one, all threads: with GC and JIT), {@code evaluate_cpu_ms_min},
     *     {@code evaluate_cpu_ms_median}, {@code stats}
     *     (the 12 summary numbers), {@code per_category_ap}
     * @throws UncheckedIOException if a file cannot be read
     * @throws IllegalArgumentException for bad counts
     */
    public static LinkedHashMap<String, Object> run(Path gtFile, Path detsFile, int warmup, int reps) {
        if (warmup < 0 || reps < 1) throw new IllegalArgumentException("need warmup >= 0 and reps >= 1");
        long t0 = System.nanoTime();
        CocoGroundTruth gt;
        CocoDetections dt;
        try {
            gt = CocoGroundTruth.read(gtFile);
            dt = CocoDetections.read(detsFile);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the COCO benchmark input " + gtFile + ", " + detsFile, e);
        }
        double readMs = (System.nanoTime() - t0) / 1e6;
        CocoEval.Params params = CocoEval.Params.defaults();
        CocoEval.Result result = null;
        double firstMs = 0;
        double[] ms = new double[reps], cpuMs = new double[reps];
        for (int r = 0; r < warmup + reps; r++) {
            long c = processCpuNanos(), s = System.nanoTime();
            result = CocoEval.evaluate(gt, dt, params);
            double t = (System.nanoTime() - s) / 1e6, cpu = (processCpuNanos() - c) / 1e6;
            if (r == 0) firstMs = t;
            if (r >= warmup) {
                ms[r - warmup] = t;
                cpuMs[r - warmup] = cpu;
            }
        }
        double[] sorted = ms.clone(), cpuSorted = cpuMs.clone();
        Arrays.sort(sorted);
        Arrays.sort(cpuSorted);
        LinkedHashMap<String, Object> out = new LinkedHashMap<>();
        out.put("what", "coco-eval");
        out.put("images", gt.images().size());
        out.put("gt_boxes", gt.annotations().size());
        out.put("detections", dt.detections().size());
        out.put("categories", gt.categories().size());
        out.put("read_ms", round1(readMs));
        out.put("first_ms", round1(firstMs));
        out.put("reps", reps);
        out.put("evaluate_ms", Arrays.stream(ms).map(CocoEvalBench::round1).toArray());
        out.put("evaluate_ms_min", round1(sorted[0]));
        out.put("evaluate_ms_median", round1(median(sorted)));
        out.put("evaluate_ms_max", round1(sorted[reps - 1]));
        out.put("evaluate_cpu_ms", Arrays.stream(cpuMs).map(CocoEvalBench::round1).toArray());
        out.put("evaluate_cpu_ms_min", round1(cpuSorted[0]));
        out.put("evaluate_cpu_ms_median", round1(median(cpuSorted)));
        out.put("stats", result.stats());
        out.put("per_category_ap", result.perCategoryAp());
        return out;
    }

    /** CPU time of the whole process (all threads: the evaluating one, GC, JIT compilers), -1 if unknown. */
    private static long processCpuNanos() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static double round1(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
