package dev.frcnn.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The up-front check of the splits a run will read, before the first training step and before evaluation reads an
 * image: every listed image exists and is a readable file, its header parses ({@link ImageHeader}) and is within
 * {@code max_image_pixels} ({@link ImageTooLargeException}) and the caller's {@link SizeRule} (the model's
 * smallest input after the resize: {@link ImageTooSmallException}), its end is there ({@link ImageEnd}; handled by the
 * {@link TruncatedImages} policy), and its annotation reads ({@link DetectionDataset#annotation}; for VOC: the XML,
 * class names, coordinates; a COCO file was checked whole when it was read). Any {@link DetectionDataset} is checked
 * the same way; what is VOC's own (boxes clipped to the header's size, {@code <size>} mismatches) is reported for VOC
 * splits, and a split's own {@link DetectionDataset#warnings()} (COCO: clipped boxes) are passed on. Images are read on a small thread pool ({@link #defaultThreads()}), each file once (whole, as the
 * end check needs its last bytes; a truncated file under {@code load} is also decoded once, to make sure it can be).
 *
 * <p>All problems of all splits are collected and thrown together ({@link DatasetProblemsException}: the first
 * {@value DatasetProblemsException#LISTED} by name, then a count), so nothing is trained or evaluated on a dataset
 * with a missing or unreadable image. Warnings (returned, one line each, for the caller to print): per split, ids
 * listed more than once; per truncated file with {@code load} or {@code skip}, its name; per split, the boxes
 * clipped to their image (and dropped as empty after clipping), counted, with the first; per split, annotations
 * whose {@code <size>} disagrees with the image.
 *
 * <p>Not checked: the pixels between a readable header and a present end marker (a file corrupt in the middle is
 * found when it is decoded: libjpeg usually decodes such data with a warning rather than failing).
 */
public final class DatasetCheck {
    private DatasetCheck() {}

    /** Ids listed by name in the duplicate warning. */
    private static final int LISTED_DUPLICATES = 5;

    /**
     * The outcome of a check that found no problem.
     *
     * @param datasets the splits to use, in the order given: the same datasets, except that with
     *     {@code truncated_images: skip} the truncated images are left out ({@link DetectionDataset#withoutIds}, which
     *     keeps each dataset's type)
     * @param warnings warning lines (without a prefix), in split order
     * @param images distinct image files checked
     * @param seconds wall time of the check
     */
    public record Result(List<DetectionDataset> datasets, List<String> warnings, int images, double seconds) {}

    /** The thread count of {@link #run(List, TruncatedImages)}: {@code min(8, 2 x available processors)}. */
    public static int defaultThreads() {
        return Math.min(8, 2 * Runtime.getRuntime().availableProcessors());
    }

    /**
     * A rule on an image's size, applied to its header (in the frame the split's {@link ExifOrientationMode} decodes
     * it in) during the check (e.g. the model's preprocessing must not
     * resize it below the backbone's smallest input: {@link Preprocessing#checkResizable}).
     */
    @FunctionalInterface
    public interface SizeRule {
        /** Accepts everything. */
        SizeRule ANY = (file, h, w) -> {};

        /**
         * @param file the image
         * @param h its height in pixels
         * @param w its width in pixels
         * @throws DataException (naming the file) if the image cannot be used
         */
        void check(Path file, long h, long w);
    }

    /** As {@link #run(List, TruncatedImages, SizeRule, int)} with no size rule and {@link #defaultThreads()}. */
    public static Result run(List<? extends DetectionDataset> splits, TruncatedImages truncated) {
        return run(splits, truncated, SizeRule.ANY, defaultThreads());
    }

    /** As {@link #run(List, TruncatedImages, SizeRule, int)} with {@link #defaultThreads()}. */
    public static Result run(List<? extends DetectionDataset> splits, TruncatedImages truncated, SizeRule sizeRule) {
        return run(splits, truncated, sizeRule, defaultThreads());
    }

    /** As {@link #run(List, TruncatedImages, SizeRule, int)} with no size rule. */
    public static Result run(List<? extends DetectionDataset> splits, TruncatedImages truncated, int threads) {
        return run(splits, truncated, SizeRule.ANY, threads);
    }

    /**
     * Checks every image and annotation the splits list (each file once, however often it is listed).
     *
     * @param splits the splits the run reads (e.g. trainval and test)
     * @param truncated the {@code truncated_images} policy
     * @param sizeRule applied to every image's header size (its refusals are problems like the others)
     * @param threads reader threads (&gt;= 1)
     * @return the splits to use and the warnings
     * @throws DatasetProblemsException listing every problem found (nothing should be run then)
     * @throws IllegalArgumentException if {@code splits} is empty or {@code threads < 1}
     */
    public static Result run(List<? extends DetectionDataset> splits, TruncatedImages truncated, SizeRule sizeRule,
                             int threads) {
        if (splits.isEmpty()) throw new IllegalArgumentException("no split to check");
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        long t0 = System.nanoTime();
        // Distinct image files over all splits, with the limit and orientation mode of the first split listing each.
        Map<Path, DetectionDataset> files = new LinkedHashMap<>();
        for (DetectionDataset ds : splits) {
            for (int i = 0; i < ds.size(); i++) files.putIfAbsent(ds.imagePath(i), ds);
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, Math.max(1, files.size())), r -> {
            Thread t = new Thread(r, "frcnn-dataset-check");
            t.setDaemon(true);
            return t;
        });
        Map<Path, ImageStatus> images = new LinkedHashMap<>();
        List<List<AnnotationStatus>> annotations = new ArrayList<>();
        try {
            Map<Path, Future<ImageStatus>> fi = new LinkedHashMap<>();
            files.forEach((path, ds) -> fi.put(path, pool.submit(() -> checkImage(path, ds.maxImagePixels(),
                    ds.exifOrientation(), truncated, sizeRule))));
            for (Map.Entry<Path, Future<ImageStatus>> e : fi.entrySet()) images.put(e.getKey(), get(e.getValue()));
            for (DetectionDataset ds : splits) {
                if (!(ds instanceof VocDataset voc)) continue; // VOC clips its boxes to the header's size
                for (int i = 0; i < voc.size(); i++) {
                    ImageStatus st = images.get(voc.imagePath(i));
                    if (st.header() != null) voc.rememberHeader(voc.ids().get(i), st.header());
                }
            }
            for (DetectionDataset ds : splits) {
                List<Future<AnnotationStatus>> fa = new ArrayList<>();
                for (int i : firstOccurrences(ds)) {
                    int idx = i;
                    fa.add(pool.submit(() -> checkAnnotation(ds, idx)));
                }
                List<AnnotationStatus> out = new ArrayList<>();
                for (Future<AnnotationStatus> f : fa) out.add(get(f));
                annotations.add(out);
            }
        } finally {
            pool.shutdownNow();
        }

        List<DatasetProblemsException.Problem> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<DetectionDataset> out = new ArrayList<>();
        java.util.Set<Path> reported = new java.util.HashSet<>();
        for (int s = 0; s < splits.size(); s++) {
            DetectionDataset ds = splits.get(s);
            warnings.addAll(ds.warnings());
            Map<String, Integer> dups = ds.duplicateIds();
            if (!dups.isEmpty()) warnings.add(duplicateWarning(ds, dups));
            List<String> truncatedIds = new ArrayList<>();
            int clippedBoxes = 0, clippedFiles = 0, dropped = 0, mismatched = 0;
            String firstClip = null, firstMismatch = null;
            Path annDir = null;
            List<AnnotationStatus> anns = annotations.get(s);
            List<Integer> firsts = firstOccurrences(ds);
            for (int k = 0; k < firsts.size(); k++) {
                int i = firsts.get(k);
                Path img = ds.imagePath(i);
                ImageStatus st = images.get(img);
                boolean first = reported.add(img);
                if (st.problem() != null) {
                    if (first) problems.add(st.problem());
                } else if (st.missingEnd() != null) {
                    truncatedIds.add(ds.ids().get(i));
                    if (truncated == TruncatedImages.ERROR) {
                        if (first) {
                            problems.add(new DatasetProblemsException.Problem(img, st.missingEnd()
                                    + ": the file is truncated (truncated_images: error; 'load' decodes what is there, "
                                    + "'skip' leaves it out)"));
                        }
                    } else if (truncated == TruncatedImages.LOAD) {
                        if (first) {
                            warnings.add(img + ": " + st.missingEnd() + ": the file is truncated; its missing part is "
                                    + "filled in when it is decoded (truncated_images: load)");
                        }
                    } else {
                        warnings.add(img + ": " + st.missingEnd() + ": the file is truncated; left out of split '"
                                + ds.split() + "' (truncated_images: skip)");
                    }
                }
                AnnotationStatus a = anns.get(k);
                if (a.problem() != null) {
                    problems.add(a.problem());
                    continue;
                }
                VocDataset.BoxFixes f = a.fixes();
                if (f.clipped() > 0) {
                    clippedBoxes += f.clipped();
                    clippedFiles++;
                    dropped += f.dropped();
                    if (firstClip == null) {
                        firstClip = ds.annotationPath(i).getFileName() + " object " + f.firstObject();
                        annDir = ds.annotationPath(i).getParent();
                    }
                }
                if (f.sizeMismatch()) {
                    mismatched++;
                    if (firstMismatch == null) {
                        if (annDir == null) annDir = ds.annotationPath(i).getParent();
                        firstMismatch = String.format(Locale.ROOT, "%s says %d x %d, the image is %d x %d",
                                ds.annotationPath(i).getFileName(), f.declaredWidth(), f.declaredHeight(),
                                f.imageWidth(), f.imageHeight());
                    }
                }
            }
            if (clippedBoxes > 0) {
                warnings.add(String.format(Locale.ROOT, "split '%s': %d %s in %d %s of %s extend beyond their image "
                                + "and %s clipped to it (first: %s)%s", ds.split(), clippedBoxes,
                        clippedBoxes == 1 ? "box" : "boxes", clippedFiles, clippedFiles == 1 ? "file" : "files", annDir,
                        clippedBoxes == 1 ? "was" : "were", firstClip,
                        dropped == 0 ? "" : "; " + dropped + " of them " + (dropped == 1 ? "was" : "were")
                                + " empty after clipping and dropped"));
            }
            if (mismatched > 0) {
                warnings.add(String.format(Locale.ROOT, "split '%s': %d %s of %s %s a <size> that differs from the "
                                + "image's (first: %s); the image's size is used", ds.split(), mismatched,
                        mismatched == 1 ? "file" : "files", annDir, mismatched == 1 ? "gives" : "give", firstMismatch));
            }
            if (truncated == TruncatedImages.SKIP && !truncatedIds.isEmpty()) {
                if (truncatedIds.size() == new LinkedHashSet<>(ds.ids()).size()) {
                    problems.add(new DatasetProblemsException.Problem(ds.indexFile(),
                            "every image listed is truncated and left out (truncated_images: skip)"));
                    out.add(ds);
                } else {
                    out.add(ds.withoutIds(truncatedIds));
                }
            } else {
                out.add(ds);
            }
        }
        if (!problems.isEmpty()) throw new DatasetProblemsException(splits.get(0).root(), problems);
        return new Result(List.copyOf(out), List.copyOf(warnings), files.size(), (System.nanoTime() - t0) / 1e9);
    }

    /** One image file's state: its header, or the problem; what its end lacks, if anything. */
    private record ImageStatus(ImageHeader header, String missingEnd, DatasetProblemsException.Problem problem) {}

    /** One annotation's state: what was fixed, or the problem. */
    private record AnnotationStatus(VocDataset.BoxFixes fixes, DatasetProblemsException.Problem problem) {}

    private static ImageStatus checkImage(Path path, long maxPixels, ExifOrientationMode exif, TruncatedImages truncated,
                                          SizeRule sizeRule) {
        try {
            byte[] bytes = ImageReader.readBytes(path);
            // in the frame the image is decoded in, for the size rule and the boxes' clipping
            ImageHeader h = ImageReader.checkHeader(path, bytes, maxPixels).oriented(exif.orientationOf(bytes));
            sizeRule.check(path, h.height(), h.width());
            String missing = ImageEnd.missingEnd(bytes);
            if (missing != null && truncated == TruncatedImages.LOAD && ImageReader.trialDecode(ImageEnd.completed(bytes)) == null) {
                return new ImageStatus(null, missing, new DatasetProblemsException.Problem(path, missing
                        + ": the file is truncated, and not a decodable image even with its end completed"));
            }
            return new ImageStatus(h, missing, null);
        } catch (DataException e) {
            return new ImageStatus(null, null, problem(e, path));
        }
    }

    private static AnnotationStatus checkAnnotation(DetectionDataset ds, int i) {
        try {
            DetectionDataset.Boxes b = ds.annotation(i);
            return new AnnotationStatus(b instanceof VocDataset.Annotation a ? a.fixes() : VocDataset.BoxFixes.NONE,
                    null);
        } catch (DataException e) {
            return new AnnotationStatus(null, problem(e, ds.annotationPath(i)));
        }
    }

    private static DatasetProblemsException.Problem problem(DataException e, Path fallback) {
        Path file = e.file() != null ? e.file() : fallback;
        String m = e.getMessage();
        String prefix = file + ": ";
        return new DatasetProblemsException.Problem(file, m.startsWith(prefix) ? m.substring(prefix.length()) : m);
    }

    /** Indices of the first occurrence of each id, in split order. */
    private static List<Integer> firstOccurrences(DetectionDataset ds) {
        List<Integer> out = new ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int i = 0; i < ds.size(); i++) if (seen.add(ds.ids().get(i))) out.add(i);
        return out;
    }

    private static String duplicateWarning(DetectionDataset ds, Map<String, Integer> dups) {
        StringBuilder first = new StringBuilder();
        int n = 0;
        for (Map.Entry<String, Integer> e : dups.entrySet()) {
            if (n == LISTED_DUPLICATES) {
                first.append(", ...");
                break;
            }
            if (n++ > 0) first.append(", ");
            first.append(e.getKey()).append(" x").append(e.getValue());
        }
        int extra = dups.values().stream().mapToInt(c -> c - 1).sum();
        return String.format(Locale.ROOT, "%s lists %d %s more than once (%s): kept as listed, as the reference does, "
                        + "so %s %d more %s", ds.indexFile(), dups.size(), dups.size() == 1 ? "id" : "ids", first,
                !(ds instanceof VocDataset v) || v.useDifficult() ? "evaluation counts" : "each epoch trains on", extra, extra == 1 ? "image" : "images");
    }

    private static <T> T get(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking the dataset", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException("dataset check failed: " + e.getCause(), e.getCause());
        }
    }
}
