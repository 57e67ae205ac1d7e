package dev.frcnn.data;


import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A COCO detection dataset: an instances JSON ({@link CocoFile}, read with a streaming parser) and a folder of images.
 *
 * <p>Layouts: {@link #fromLayout} takes COCO 2017's, {@code annotations/instances_<split>.json} with the images in
 * {@code <split>/}; the constructors take an explicit annotation file and image folder. Image {@code file_name}s are
 * resolved against the image folder and must stay inside it.
 *
 * <p>Labels: category ids map to contiguous 0-based labels in the order of the category list sorted by id
 * ({@link CocoCategories}); {@link #labelNames()} are the category names in that order.
 *
 * <p>Boxes: COCO's {@code [x, y, w, h]} becomes {@code (ymin, xmin, ymax, xmax) = (y, x, y + h, x + w)}, here and
 * nowhere else. A box with {@code w == 0} or {@code h == 0} is refused ({@link DataException} naming the file, the
 * image id and the annotation id; a negative one is refused by {@link CocoFile}). A box reaching outside the image
 * ({@code [0, width] x [0, height]} of the JSON's {@code width} and {@code height}, COCO's continuous pixel frame) is
 * clipped to it, and dropped if empty after clipping, as {@link VocDataset} does with its own, 1-based, frame;
 * {@link #warnings()} says how many, naming the first image id and annotation id.
 *
 * <p>Crowd regions ({@code iscrowd: 1}) are never targets: they are left out of {@link #get} and {@link #annotation}
 * and kept apart in {@link #crowd}, for an evaluation to use as ignore regions (as COCOeval does). The non-standard
 * {@code difficult: 1} (VOC's flag, written by our converter) is honoured as {@link VocDataset} honours
 * {@code <difficult>}: dropped in {@link Mode#TRAIN}, kept and flagged in {@link Mode#EVALUATE}.
 *
 * <p>Images without a target (no annotation, or only crowd, difficult or dropped ones) are left out in
 * {@link Mode#TRAIN} unless {@code keepEmptyImages}, and kept in {@link Mode#EVALUATE}. Images keep the file's order.
 * The size used for clipping is the JSON's; the image header is not read here.
 */
public final class CocoDataset implements DetectionDataset {
    /** What the dataset is read for. */
    public enum Mode {
        /** Training: difficult objects dropped, images without a target left out by default. */
        TRAIN,
        /** Evaluation: difficult objects kept and flagged, every image kept. */
        EVALUATE
    }

    /**
     * One image's boxes as arrays; as {@link DetectionDataset.Boxes}.
     *
     * @param id the COCO image id in decimal
     * @param bbox (R, 4) row-major (ymin, xmin, ymax, xmax), pixels
     * @param label (R,) labels
     * @param difficult (R,) difficult flags
     * @param annotationIds (R,) the COCO annotation ids of the boxes
     * @param areas (R,) the file's {@code area} of each box, NaN where it gives none
     */
    public record CocoBoxes(String id, float[] bbox, int[] label, boolean[] difficult, long[] annotationIds,
                            double[] areas) implements DetectionDataset.Boxes {
        /** The file's {@code area} of box {@code r}, or without one the box's {@code w * h}. */
        @Override
        public double area(int r) {
            return Double.isNaN(areas[r]) ? DetectionDataset.Boxes.super.area(r) : areas[r];
        }
    }

    private record Entry(CocoFile.Image image, CocoBoxes targets, CocoBoxes crowd) {}

    private final Path annotationFile;
    private final Path imageDir;
    private final String split;
    private final Mode mode;
    private final CocoCategories categories;
    private final List<Entry> entries;
    private final List<String> ids;
    private final List<String> warnings;
    private final long maxImagePixels;
    private final ExifOrientationMode exifOrientation;

    /**
     * The dataset of {@code annotationFile} and {@code imageDir}, images without targets left out in
     * {@link Mode#TRAIN}, with the default pixel limit and EXIF orientation applied.
     *
     * @throws DataException as {@link #CocoDataset(Path, Path, Mode, boolean, long, ExifOrientationMode)}
     */
    public CocoDataset(Path annotationFile, Path imageDir, Mode mode) {
        this(annotationFile, imageDir, mode, mode == Mode.EVALUATE, ImageReader.DEFAULT_MAX_PIXELS,
                ExifOrientationMode.APPLY);
    }

    /**
     * @param annotationFile the instances JSON
     * @param imageDir the folder the images' {@code file_name}s are relative to
     * @param mode what the dataset is read for
     * @param keepEmptyImages keep images without a target (always true in effect for {@link Mode#EVALUATE})
     * @param maxImagePixels images of more pixels are refused before decoding ({@code max_image_pixels})
     * @param exifOrientation how images are decoded ({@code exif_orientation})
     * @throws DataException naming the file (and the image id and annotation id where there is one) for anything
     *     {@link CocoFile#read} refuses, a zero-width or zero-height box, a {@code file_name} that leaves the image
     *     folder, or no image left to use
     * @throws IllegalArgumentException if {@code maxImagePixels < 1}
     */
    public CocoDataset(Path annotationFile, Path imageDir, Mode mode, boolean keepEmptyImages, long maxImagePixels,
                       ExifOrientationMode exifOrientation) {
        if (maxImagePixels < 1) throw new IllegalArgumentException("maxImagePixels must be >= 1, got " + maxImagePixels);
        this.annotationFile = Objects.requireNonNull(annotationFile, "annotationFile");
        this.imageDir = Objects.requireNonNull(imageDir, "imageDir");
        this.mode = Objects.requireNonNull(mode, "mode");
        this.maxImagePixels = maxImagePixels;
        this.exifOrientation = Objects.requireNonNull(exifOrientation, "exifOrientation");
        String stem = annotationFile.getFileName().toString().replaceFirst("\\.json$", "");
        this.split = stem.startsWith("instances_") ? stem.substring("instances_".length()) : stem;

        CocoFile coco = CocoFile.read(annotationFile);
        List<Integer> catIds = new ArrayList<>();
        List<String> catNames = new ArrayList<>();
        for (CocoFile.Category c : coco.categories()) {
            catIds.add(c.id());
            catNames.add(c.name());
        }
        this.categories = new CocoCategories(catIds, catNames);

        Map<Long, List<CocoFile.Annotation>> byImage = new HashMap<>();
        for (CocoFile.Annotation a : coco.annotations()) byImage.computeIfAbsent(a.imageId(), k -> new ArrayList<>()).add(a);
        Path root = imageDir.toAbsolutePath().normalize();
        List<Entry> kept = new ArrayList<>();
        int clipped = 0, dropped = 0, skipped = 0;
        String firstClip = null;
        for (CocoFile.Image im : coco.images()) {
            Path p;
            try {
                p = root.resolve(im.fileName()).normalize();
            } catch (java.nio.file.InvalidPathException e) {
                throw new DataException(annotationFile, "image id " + im.id() + ": file_name '" + im.fileName()
                        + "' is not a valid file name: " + e.getReason());
            }
            if (!p.startsWith(root) || p.equals(root)) {
                throw new DataException(annotationFile, "image id " + im.id() + ": file_name '" + im.fileName()
                        + "' is not a file inside the image folder " + imageDir);
            }
            Builder targets = new Builder(), crowd = new Builder();
            for (CocoFile.Annotation a : byImage.getOrDefault(im.id(), List.of())) {
                if (a.w() == 0 || a.h() == 0) {
                    throw new DataException(annotationFile, "image id " + im.id() + ", annotation id " + a.id()
                            + ": zero-area box: bbox [x, y, w, h] = [" + fmt(a.x()) + ", " + fmt(a.y()) + ", "
                            + fmt(a.w()) + ", " + fmt(a.h()) + "]");
                }
                if (!a.crowd() && a.difficult() && mode == Mode.TRAIN) continue;
                double ymin = a.y(), xmin = a.x(), ymax = a.y() + a.h(), xmax = a.x() + a.w();
                if (ymin < 0 || xmin < 0 || ymax > im.height() || xmax > im.width()) {
                    clipped++;
                    if (firstClip == null) firstClip = "image id " + im.id() + ", annotation id " + a.id();
                    ymin = Math.clamp(ymin, 0, im.height());
                    xmin = Math.clamp(xmin, 0, im.width());
                    ymax = Math.clamp(ymax, 0, im.height());
                    xmax = Math.clamp(xmax, 0, im.width());
                    if (!(ymax > ymin) || !(xmax > xmin)) {
                        dropped++;
                        continue;
                    }
                }
                (a.crowd() ? crowd : targets).add((float) ymin, (float) xmin, (float) ymax, (float) xmax,
                        categories.label(a.categoryId()), a.difficult(), a.id(), a.area());
            }
            if (targets.size() == 0 && mode == Mode.TRAIN && !keepEmptyImages) {
                skipped++;
                continue;
            }
            String id = Long.toString(im.id());
            kept.add(new Entry(im, targets.build(id), crowd.build(id)));
        }
        if (kept.isEmpty()) throw new DataException(annotationFile, "no image is left to use");
        this.entries = List.copyOf(kept);
        this.ids = entries.stream().map(e -> e.targets().id()).toList();
        List<String> w = new ArrayList<>();
        if (clipped > 0) {
            w.add(String.format(Locale.ROOT, "%s: %d box%s reached outside the image and %s clipped to it, %d of them "
                            + "dropped as empty after clipping (first: %s)", annotationFile, clipped,
                    clipped == 1 ? "" : "es", clipped == 1 ? "was" : "were", dropped, firstClip));
        }
        if (skipped > 0) {
            w.add(String.format(Locale.ROOT, "%s: %d image%s without a training target left out of split '%s'",
                    annotationFile, skipped, skipped == 1 ? "" : "s", split));
        }
        this.warnings = Collections.unmodifiableList(w);
    }

    private CocoDataset(CocoDataset from, List<Entry> entries) {
        this.annotationFile = from.annotationFile;
        this.imageDir = from.imageDir;
        this.split = from.split;
        this.mode = from.mode;
        this.categories = from.categories;
        this.entries = List.copyOf(entries);
        this.ids = this.entries.stream().map(e -> e.targets().id()).toList();
        this.warnings = from.warnings;
        this.maxImagePixels = from.maxImagePixels;
        this.exifOrientation = from.exifOrientation;
    }

    /**
     * This dataset without the images of the given ids (decimal COCO image ids), e.g. truncated images that
     * {@code truncated_images: skip} leaves out.
     *
     * @throws DataException naming the annotation file if no image remains
     */
    @Override
    public CocoDataset withoutIds(Collection<String> drop) {
        Set<String> d = new HashSet<>(drop);
        List<Entry> kept = entries.stream().filter(e -> !d.contains(e.targets().id())).toList();
        if (kept.isEmpty()) throw new DataException(annotationFile, "no image is left to use");
        return new CocoDataset(this, kept);
    }

    /**
     * The COCO 2017 layout: {@code root/annotations/instances_<split>.json} with the images in {@code root/<split>/}.
     *
     * @throws DataException as {@link #CocoDataset(Path, Path, Mode, boolean, long, ExifOrientationMode)}, e.g. when
     *     the annotation file is not there
     */
    public static CocoDataset fromLayout(Path root, String split, Mode mode, boolean keepEmptyImages,
                                         long maxImagePixels, ExifOrientationMode exifOrientation) {
        return new CocoDataset(layoutAnnotationFile(root, split), root.resolve(split), mode, keepEmptyImages,
                maxImagePixels, exifOrientation);
    }

    /** COCO 2017's annotation file of a split: {@code root/annotations/instances_<split>.json}. */
    public static Path layoutAnnotationFile(Path root, String split) {
        return root.resolve("annotations").resolve("instances_" + split + ".json");
    }

    /** Whether {@code root} holds COCO 2017's layout for {@code split} (its annotation file exists). */
    public static boolean isLayout(Path root, String split) {
        return Files.isRegularFile(layoutAnnotationFile(root, split));
    }

    private static final class Builder {
        private final List<float[]> boxes = new ArrayList<>();
        private final List<Integer> labels = new ArrayList<>();
        private final List<Boolean> diffs = new ArrayList<>();
        private final List<Long> annIds = new ArrayList<>();
        private final List<Double> areas = new ArrayList<>();

        void add(float ymin, float xmin, float ymax, float xmax, int label, boolean difficult, long annId,
                 double area) {
            boxes.add(new float[] {ymin, xmin, ymax, xmax});
            labels.add(label);
            diffs.add(difficult);
            annIds.add(annId);
            areas.add(area);
        }

        int size() {
            return labels.size();
        }

        CocoBoxes build(String id) {
            int r = size();
            float[] b = new float[4 * r];
            int[] l = new int[r];
            boolean[] d = new boolean[r];
            long[] a = new long[r];
            double[] ar = new double[r];
            for (int k = 0; k < r; k++) {
                System.arraycopy(boxes.get(k), 0, b, 4 * k, 4);
                l[k] = labels.get(k);
                d[k] = diffs.get(k);
                a[k] = annIds.get(k);
                ar[k] = areas.get(k);
            }
            return new CocoBoxes(id, b, l, d, a, ar);
        }
    }

    @Override
    public int size() {
        return entries.size();
    }

    /** The COCO image ids in decimal, in file order. */
    @Override
    public List<String> ids() {
        return ids;
    }

    /** The COCO image id of image {@code i}. */
    @Override
    public long imageId(int i) {
        return entries.get(i).image().id();
    }

    /** Image {@code i}'s width and height as the JSON gives them: {@code {width, height}}. */
    public int[] declaredSize(int i) {
        CocoFile.Image im = entries.get(i).image();
        return new int[] {im.width(), im.height()};
    }

    /** The category names by label. */
    @Override
    public List<String> labelNames() {
        return categories.names();
    }

    /** The category id to label mapping (the file's categories, sorted by id). */
    @Override
    public CocoCategories categories() {
        return categories;
    }

    /** The split: the annotation file's stem without {@code instances_}. */
    @Override
    public String split() {
        return split;
    }

    /** What the dataset was read for. */
    public Mode mode() {
        return mode;
    }

    /** The instances JSON. */
    public Path annotationFile() {
        return annotationFile;
    }

    /** The image folder. */
    public Path imageDir() {
        return imageDir;
    }

    /** One line per kind of fix made while reading (clipped boxes, images left out); empty if none. */
    @Override
    public List<String> warnings() {
        return warnings;
    }

    /** {@link #annotationFile()}: every image's annotations are in it. */
    @Override
    public Path annotationPath(int i) {
        Objects.checkIndex(i, entries.size());
        return annotationFile;
    }

    /** {@link #annotationFile()}. */
    @Override
    public Path indexFile() {
        return annotationFile;
    }

    /** {@link #annotationFile()}. */
    @Override
    public Path root() {
        return annotationFile;
    }

    @Override
    public Path imagePath(int i) {
        return imageDir.resolve(entries.get(i).image().fileName());
    }

    /** Image {@code i}'s targets (crowd regions excluded; see {@link #crowd}). */
    @Override
    public CocoBoxes annotation(int i) {
        return entries.get(i).targets();
    }

    /**
     * Image {@code i}'s crowd regions ({@code iscrowd: 1}), clipped as the targets are: never training targets, for
     * an evaluation's ignore regions.
     */
    @Override
    public CocoBoxes crowd(int i) {
        return entries.get(i).crowd();
    }

    @Override
    public long maxImagePixels() {
        return maxImagePixels;
    }

    @Override
    public ExifOrientationMode exifOrientation() {
        return exifOrientation;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }
}
