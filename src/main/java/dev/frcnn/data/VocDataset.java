package dev.frcnn.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.xml.XmlMapper;
import dev.frcnn.error.UserInputException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A PASCAL VOC detection dataset, a port of the reference's {@code data/voc_dataset.VOCBboxDataset}.
 *
 * <p>Layout under {@code dataDir} (e.g. {@code VOCdevkit/VOC2007}): {@code ImageSets/Main/<split>.txt}
 * (one image id per line), {@code Annotations/<id>.xml}, {@code JPEGImages/<id>.jpg}. Annotations are
 * read lazily, on {@link #get} / {@link #annotation}, as the reference does.
 *
 * <p>Per object, as the reference: the class is {@code name.lower().strip()} looked up in the label
 * names; the box is {@code (ymin, xmin, ymax, xmax)} of {@code <bndbox>} each minus 1 (VOC's 1-based
 * pixel indices made 0-based); with {@code useDifficult == false} (training) objects marked
 * {@code <difficult>1</difficult>} are dropped, with {@code true} (testing) they are kept and flagged.
 *
 * <p>Differences from the reference, all on inputs where it would crash or silently misbehave: a
 * missing or blank {@code <difficult>} counts as 0; {@code <bndbox>} values may be decimals
 * (some VOC-format exports write {@code 12.0}); an image without (kept) objects yields R = 0; empty or
 * inverted boxes ({@code ymax <= ymin} or {@code xmax <= xmin} after the minus 1) are rejected; blank
 * lines in the split file are skipped. Every problem is a {@link DataException} naming the file.
 *
 * <p>Boxes outside the image (the reference takes them as they are): after the minus 1, a box is clipped to the
 * image's valid 0-based range, {@code y in [0, H - 1]}, {@code x in [0, W - 1]} (VOC's 1-based {@code [1, H]} and
 * {@code [1, W]}); a box that is empty after clipping (it lay wholly outside, or on the border line outside) is
 * dropped. The size is the image file's, from its header ({@link ImageHeader}) in the frame the image is decoded in
 * (width and height swapped for EXIF orientations 5 to 8 under {@link ExifOrientationMode#APPLY}), whatever the annotation's
 * {@code <size>} says; only when the image cannot be read is {@code <size>} used (and without either the boxes are
 * kept as they are: {@link #get} then fails on the image anyway). {@link Annotation#fixes()} counts what was changed;
 * {@link DatasetCheck} reports it as one warning line per split.
 *
 * <p>Ids listed more than once in the split file are kept, each occurrence an example, as the reference's
 * {@code VOCBboxDataset} (it reads the list as it is: the image trains twice per epoch and counts twice in the
 * evaluation); {@link #duplicateIds()} lists them and {@link DatasetCheck} warns once.
 *
 * <p>Truncated images: {@link #get} decodes them as {@link TruncatedImages#LOAD} does, without a warning; the
 * warning, and leaving them out ({@code skip}) or refusing them ({@code error}), are {@link DatasetCheck}'s, which
 * training and evaluation run first.
 */
public final class VocDataset implements DetectionDataset {
    /** The 20 VOC class names in the reference's order ({@code VOC_BBOX_LABEL_NAMES}); label i is name i. */
    public static final List<String> VOC_BBOX_LABEL_NAMES = List.of(
            "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
            "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
            "tvmonitor");

    private static final XmlMapper XML = new XmlMapper();

    private final Path dataDir;
    private final String split;
    private final boolean useDifficult;
    private final List<String> labelNames;
    private final Map<String, Integer> labelIndex = new HashMap<>();
    private final List<String> ids;
    private final long maxImagePixels;
    private final ExifOrientationMode exifOrientation;
    /** Image headers by id: filled by {@link DatasetCheck} or on first use; shared by {@link #withoutIds} copies. */
    private final Map<String, ImageHeader> headers;
    /** COCO image ids by id: 1-based first position in the split file ({@link #imageId}); shared by copies. */
    private final Map<String, Long> imageIds;

    /**
     * The annotation of one image as Java arrays (no image decoding).
     *
     * @param id image id
     * @param bbox (R, 4) flattened row-major: (ymin, xmin, ymax, xmax), 0-based pixels
     * @param label (R,) class indices
     * @param difficult (R,) difficult flags
     * @param fixes what was clipped or dropped to fit the boxes into the image ({@link BoxFixes#NONE} if nothing)
     */
    public record Annotation(String id, float[] bbox, int[] label, boolean[] difficult, BoxFixes fixes)
            implements DetectionDataset.Boxes {
        /** An annotation whose boxes needed no fix. */
        public Annotation(String id, float[] bbox, int[] label, boolean[] difficult) {
            this(id, bbox, label, difficult, BoxFixes.NONE);
        }

        /** Number of objects R. */
        @Override
        public int size() {
            return label.length;
        }
    }

    /**
     * What {@link #annotation} changed in one file to fit its boxes into the image.
     *
     * @param clipped kept objects whose box extended beyond the image and was clipped (the dropped ones included)
     * @param dropped of those, boxes empty after clipping, dropped
     * @param firstObject 1-based index in the file of the first clipped object's {@code <object>}, or 0
     * @param declaredWidth the width of the XML's {@code <size>}, or 0 without a usable one
     * @param declaredHeight its height, or 0
     * @param imageWidth the width the boxes were clipped to (the image header's), or 0 if not known
     * @param imageHeight the height they were clipped to, or 0
     */
    public record BoxFixes(int clipped, int dropped, int firstObject, long declaredWidth, long declaredHeight,
                           long imageWidth, long imageHeight) {
        /** Nothing changed, no size known. */
        public static final BoxFixes NONE = new BoxFixes(0, 0, 0, 0, 0, 0, 0);

        /** Whether the XML's {@code <size>} is given and differs from the image's size (the image's is used). */
        public boolean sizeMismatch() {
            return declaredWidth > 0 && imageWidth > 0 && (declaredWidth != imageWidth || declaredHeight != imageHeight);
        }
    }

    /**
     * A VOC dataset with the 20 VOC classes.
     *
     * @param dataDir the {@code VOC2007}-style directory
     * @param split split name, e.g. {@code trainval} or {@code test}
     * @param useDifficult keep difficult objects (reference: false for training, true for testing)
     * @throws DataException if the split file is missing, unreadable or lists no ids
     */
    public VocDataset(Path dataDir, String split, boolean useDifficult) {
        this(dataDir, split, useDifficult, VOC_BBOX_LABEL_NAMES);
    }

    /**
     * A VOC-layout dataset with the given class names (e.g. a small demo dataset).
     *
     * @param dataDir the {@code VOC2007}-style directory
     * @param split split name, e.g. {@code trainval} or {@code test}
     * @param useDifficult keep difficult objects
     * @param labelNames foreground class names; label i is name i. Matched case-insensitively and
     *     ignoring surrounding blanks, as the reference lower-cases and strips the XML names.
     * @throws UserInputException if the names (the config's {@code class_names}) are empty, blank or duplicated
     * @throws DataException if the split file is missing, unreadable or lists no ids
     */
    public VocDataset(Path dataDir, String split, boolean useDifficult, List<String> labelNames) {
        this(dataDir, split, useDifficult, labelNames, ImageReader.DEFAULT_MAX_PIXELS);
    }

    /**
     * As {@link #VocDataset(Path, String, boolean, List)}, refusing images of more than {@code maxImagePixels}
     * pixels ({@code max_image_pixels}) from their header, before decoding ({@link ImageTooLargeException}).
     *
     * @throws IllegalArgumentException also if {@code maxImagePixels < 1}
     */
    public VocDataset(Path dataDir, String split, boolean useDifficult, List<String> labelNames, long maxImagePixels) {
        this(dataDir, split, useDifficult, labelNames, maxImagePixels, ExifOrientationMode.APPLY);
    }

    /**
     * As {@link #VocDataset(Path, String, boolean, List, long)}, decoding the images with {@code exifOrientation}
     * ({@code exif_orientation}); their header sizes, to which the boxes are clipped, are in the same frame.
     *
     * @throws IllegalArgumentException also if {@code maxImagePixels < 1}
     * @throws NullPointerException if {@code exifOrientation} is null
     */
    public VocDataset(Path dataDir, String split, boolean useDifficult, List<String> labelNames, long maxImagePixels,
                      ExifOrientationMode exifOrientation) {
        if (maxImagePixels < 1) throw new IllegalArgumentException("maxImagePixels must be >= 1, got " + maxImagePixels);
        this.maxImagePixels = maxImagePixels;
        this.exifOrientation = java.util.Objects.requireNonNull(exifOrientation, "exifOrientation");
        this.dataDir = dataDir;
        this.split = split;
        this.useDifficult = useDifficult;
        if (labelNames == null || labelNames.isEmpty()) throw new UserInputException("no class names given");
        this.labelNames = List.copyOf(labelNames);
        for (int i = 0; i < this.labelNames.size(); i++) {
            String key = normalizeName(this.labelNames.get(i));
            if (key.isEmpty()) throw new UserInputException("class name " + i + " is blank");
            if (labelIndex.putIfAbsent(key, i) != null) {
                throw new UserInputException("class name '" + key + "' given twice");
            }
        }
        this.ids = readIds(dataDir.resolve("ImageSets").resolve("Main").resolve(split + ".txt"));
        this.headers = new ConcurrentHashMap<>();
        Map<String, Long> imageIds = new HashMap<>();
        for (String id : ids) imageIds.putIfAbsent(id, imageIds.size() + 1L);
        this.imageIds = Collections.unmodifiableMap(imageIds);
    }

    private VocDataset(VocDataset from, List<String> ids) {
        this.dataDir = from.dataDir;
        this.split = from.split;
        this.useDifficult = from.useDifficult;
        this.labelNames = from.labelNames;
        this.labelIndex.putAll(from.labelIndex);
        this.maxImagePixels = from.maxImagePixels;
        this.exifOrientation = from.exifOrientation;
        this.ids = ids;
        this.headers = from.headers;
        this.imageIds = from.imageIds;
    }

    /**
     * This split without the given ids (every occurrence), e.g. the truncated images that {@code truncated_images:
     * skip} leaves out.
     *
     * @param drop ids to leave out (ids not in the split are ignored)
     * @return a dataset over the remaining ids, in split-file order
     * @throws DataException if no id remains (names the split file)
     */
    @Override
    public VocDataset withoutIds(Collection<String> drop) {
        Set<String> d = new HashSet<>(drop);
        List<String> kept = ids.stream().filter(id -> !d.contains(id)).toList();
        if (kept.isEmpty()) throw new DataException(splitFile(), "no image of the split is left to use");
        return new VocDataset(this, kept);
    }

    /** The split file, {@code ImageSets/Main/<split>.txt}. */
    public Path splitFile() {
        return dataDir.resolve("ImageSets").resolve("Main").resolve(split + ".txt");
    }

    /** {@link #splitFile()}. */
    @Override
    public Path indexFile() {
        return splitFile();
    }

    /** {@link #dataDir()}. */
    @Override
    public Path root() {
        return dataDir;
    }

    /**
     * The 1-based position of image {@code i}'s id among the split file's distinct ids, in file order (images left
     * out by {@link #withoutIds} keep their numbers): the image ids {@link DatasetConverter#vocToCoco} writes.
     */
    @Override
    public long imageId(int i) {
        return imageIds.get(ids.get(i));
    }

    /**
     * Ids the split file lists more than once, in order of first appearance, with how often each is listed. They
     * are kept (see the class comment).
     *
     * @return id to count (&gt;= 2); empty if every id is listed once
     */
    @Override
    public Map<String, Integer> duplicateIds() {
        Map<String, Integer> count = new LinkedHashMap<>();
        for (String id : ids) count.merge(id, 1, Integer::sum);
        count.values().removeIf(c -> c < 2);
        return Collections.unmodifiableMap(count);
    }

    /** The pixel limit images are checked against ({@code max_image_pixels}). */
    @Override
    public long maxImagePixels() {
        return maxImagePixels;
    }

    /** Whether the images are decoded with their EXIF orientation applied ({@code exif_orientation}). */
    @Override
    public ExifOrientationMode exifOrientation() {
        return exifOrientation;
    }

    /**
     * Records image {@code id}'s header, read by {@link DatasetCheck} and oriented as {@link #exifOrientation()}
     * decodes it, so that {@link #annotation} needs no read.
     */
    void rememberHeader(String id, ImageHeader header) {
        headers.put(id, header);
    }

    /**
     * Image {@code i}'s header in the frame it is decoded in: remembered, or read from the file; null if the file
     * cannot be read or parsed.
     */
    private ImageHeader header(int i) {
        String id = ids.get(i);
        ImageHeader h = headers.get(id);
        if (h != null) return h;
        try {
            byte[] bytes = Files.readAllBytes(imagePath(i));
            h = ImageHeader.parse(bytes).oriented(exifOrientation.orientationOf(bytes));
        } catch (IOException | ImageHeader.MalformedHeaderException | RuntimeException e) {
            return null;
        }
        headers.put(id, h);
        return h;
    }

    private static List<String> readIds(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw DataException.readFailure(file, "split file", e);
        }
        List<String> out = new ArrayList<>();
        for (String l : lines) {
            String id = l.strip();
            if (!id.isEmpty()) out.add(id);
        }
        if (out.isEmpty()) throw new DataException(file, "split file lists no image ids");
        return Collections.unmodifiableList(out);
    }

    /** Number of images in the split. */
    @Override
    public int size() {
        return ids.size();
    }

    /** Image ids in split-file order. */
    @Override
    public List<String> ids() {
        return ids;
    }

    /** Foreground class names; label i is name i. */
    @Override
    public List<String> labelNames() {
        return labelNames;
    }

    /** The dataset directory given at construction. */
    public Path dataDir() {
        return dataDir;
    }

    /** The split name given at construction. */
    @Override
    public String split() {
        return split;
    }

    /** Whether difficult objects are kept. */
    public boolean useDifficult() {
        return useDifficult;
    }

    /** Path of image {@code i}'s annotation, {@code Annotations/<id>.xml}. */
    @Override
    public Path annotationPath(int i) {
        return dataDir.resolve("Annotations").resolve(ids.get(i) + ".xml");
    }

    /** Path of image {@code i}'s JPEG, {@code JPEGImages/<id>.jpg}. */
    @Override
    public Path imagePath(int i) {
        return dataDir.resolve("JPEGImages").resolve(ids.get(i) + ".jpg");
    }

    /**
     * Reads image {@code i}'s annotation (no image decoding; the image's header gives the size its boxes are clipped
     * to, see the class comment).
     *
     * @param i index in {@code [0, size())}
     * @throws DataException for a missing, unreadable or malformed XML file, a missing {@code <name>} or
     *     {@code <bndbox>} coordinate, an unknown class name, a non-numeric coordinate or difficult flag,
     *     or an empty or inverted box
     */
    @Override
    public Annotation annotation(int i) {
        String id = ids.get(i);
        Path file = annotationPath(i);
        JsonNode root;
        try {
            root = XML.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException | AccessDeniedException e) {
            throw DataException.readFailure(file, "annotation file", e);
        } catch (IOException e) {
            throw new DataException(file, "malformed annotation XML: " + firstLine(e.getMessage()), e);
        }
        if (root == null || !root.isObject()) throw new DataException(file, "annotation XML has no elements");
        List<JsonNode> objects = new ArrayList<>();
        JsonNode obj = root.get("object");
        if (obj != null) {
            if (obj.isArray()) obj.forEach(objects::add);
            else objects.add(obj);
        }
        List<float[]> boxes = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<Boolean> diffs = new ArrayList<>();
        List<Integer> objectIndex = new ArrayList<>();
        for (int k = 0; k < objects.size(); k++) {
            JsonNode o = objects.get(k);
            String where = "object " + (k + 1);
            if (!o.isObject()) throw new DataException(file, where + ": <object> has no child elements");
            boolean difficult = parseDifficult(file, where, o.get("difficult"));
            if (!useDifficult && difficult) continue;
            JsonNode bb = o.get("bndbox");
            if (bb == null || !bb.isObject()) throw new DataException(file, where + ": missing <bndbox>");
            float[] box = new float[4];
            String[] tags = {"ymin", "xmin", "ymax", "xmax"};
            for (int t = 0; t < 4; t++) box[t] = (float) (parseCoordinate(file, where, tags[t], bb.get(tags[t])) - 1);
            if (!(box[2] > box[0]) || !(box[3] > box[1])) {
                throw new DataException(file, where + ": empty or inverted box (ymin, xmin, ymax, xmax) = ("
                        + fmt(box[0] + 1) + ", " + fmt(box[1] + 1) + ", " + fmt(box[2] + 1) + ", " + fmt(box[3] + 1)
                        + ") in the file's 1-based pixels");
            }
            JsonNode nameNode = o.get("name");
            if (nameNode == null || !nameNode.isValueNode()) throw new DataException(file, where + ": missing <name>");
            String name = normalizeName(nameNode.asText());
            Integer label = labelIndex.get(name);
            if (label == null) {
                throw new DataException(file, where + ": unknown class name '" + name + "' (known: "
                        + String.join(", ", labelNames) + ")");
            }
            boxes.add(box);
            labels.add(label);
            diffs.add(difficult);
            objectIndex.add(k + 1);
        }
        long[] declared = declaredSize(root.get("size"));
        ImageHeader header = boxes.isEmpty() && declared == null ? null : header(i);
        long w = header != null ? header.width() : declared != null ? declared[0] : 0;
        long h = header != null ? header.height() : declared != null ? declared[1] : 0;
        int clipped = 0, dropped = 0, first = 0;
        if (w > 0 && h > 0) {
            float maxY = h - 1, maxX = w - 1;
            for (int k = boxes.size() - 1; k >= 0; k--) {
                float[] b = boxes.get(k);
                if (b[0] >= 0 && b[1] >= 0 && b[2] <= maxY && b[3] <= maxX) continue;
                clipped++;
                first = objectIndex.get(k);
                b[0] = Math.clamp(b[0], 0f, maxY);
                b[1] = Math.clamp(b[1], 0f, maxX);
                b[2] = Math.clamp(b[2], 0f, maxY);
                b[3] = Math.clamp(b[3], 0f, maxX);
                if (!(b[2] > b[0]) || !(b[3] > b[1])) {
                    dropped++;
                    boxes.remove(k);
                    labels.remove(k);
                    diffs.remove(k);
                }
            }
        }
        BoxFixes fixes = clipped == 0 && declared == null && header == null ? BoxFixes.NONE
                : new BoxFixes(clipped, dropped, first, declared == null ? 0 : declared[0],
                        declared == null ? 0 : declared[1], header == null ? 0 : header.width(),
                        header == null ? 0 : header.height());
        int r = boxes.size();
        float[] bbox = new float[4 * r];
        int[] label = new int[r];
        boolean[] difficult = new boolean[r];
        for (int k = 0; k < r; k++) {
            System.arraycopy(boxes.get(k), 0, bbox, 4 * k, 4);
            label[k] = labels.get(k);
            difficult[k] = diffs.get(k);
        }
        return new Annotation(id, bbox, label, difficult, fixes);
    }

    /** {@code <size><width>, <height>} as positive integers, or null if absent or not usable (ignored then). */
    private static long[] declaredSize(JsonNode size) {
        if (size == null || !size.isObject()) return null;
        JsonNode w = size.get("width"), h = size.get("height");
        if (w == null || h == null || !w.isValueNode() || !h.isValueNode()) return null;
        try {
            double dw = Double.parseDouble(w.asText().strip()), dh = Double.parseDouble(h.asText().strip());
            if (!(dw >= 1 && dh >= 1 && dw < 1e9 && dh < 1e9)) return null;
            return new long[] {(long) dw, (long) dh};
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static boolean parseDifficult(Path file, String where, JsonNode n) {
        if (n == null) return false;
        if (!n.isValueNode()) throw new DataException(file, where + ": <difficult> is not a value");
        String s = n.asText().strip();
        if (s.isEmpty()) return false;
        try {
            return Integer.parseInt(s) == 1;
        } catch (NumberFormatException e) {
            throw new DataException(file, where + ": <difficult> is not an integer: '" + s + "'");
        }
    }

    private static double parseCoordinate(Path file, String where, String tag, JsonNode n) {
        if (n == null) throw new DataException(file, where + ": <bndbox> has no <" + tag + ">");
        if (!n.isValueNode()) throw new DataException(file, where + ": <" + tag + "> is not a number");
        String s = n.asText().strip();
        double v;
        try {
            v = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new DataException(file, where + ": <" + tag + "> is not a number: '" + s + "'");
        }
        if (!Double.isFinite(v) || s.isEmpty() || !Character.isDigit(s.charAt(s.length() - 1))) {
            throw new DataException(file, where + ": <" + tag + "> is not a number: '" + s + "'");
        }
        return v;
    }

    private static String normalizeName(String s) {
        return s.toLowerCase(Locale.ROOT).strip();
    }

    private static String fmt(float v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Float.toString(v);
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
