package dev.frcnn.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.xml.XmlMapper;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

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
 */
public final class VocDataset {
    /** The 20 VOC class names in the reference's order ({@code VOC_BBOX_LABEL_NAMES}); label i is name i. */
    public static final List<String> VOC_BBOX_LABEL_NAMES = List.of(
            "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
            "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
            "tvmonitor");

    private static final XmlMapper XML = new XmlMapper();

    /**
     * The foreground class names a config trains or detects: its {@code class_names}, or, when the key was not given
     * (an empty list in the record: the reference's setting, which has no such option; a user's explicit empty list
     * is refused by {@code Config}), {@link #VOC_BBOX_LABEL_NAMES}. The one place of that rule.
     *
     * @param cfg the configuration
     * @return the class names, label i = name i
     */
    public static List<String> classNames(dev.frcnn.config.Config cfg) {
        return cfg.classNames().isEmpty() ? VOC_BBOX_LABEL_NAMES : cfg.classNames();
    }

    private final Path dataDir;
    private final String split;
    private final boolean useDifficult;
    private final List<String> labelNames;
    private final Map<String, Integer> labelIndex = new HashMap<>();
    private final List<String> ids;
    private final long maxImagePixels;

    /**
     * One image with its boxes. The tensors are CPU tensors owned by the caller's {@code PointerScope}.
     *
     * @param id image id (file stem)
     * @param image (3, H, W) float32 RGB 0..255 ({@link ImageReader#readRgbChw})
     * @param bbox (R, 4) float32 (ymin, xmin, ymax, xmax), 0-based pixels
     * @param label (R,) int64 class indices into {@link #labelNames()}
     * @param difficult (R,) bool VOC difficult flags (all false unless {@code useDifficult})
     */
    public record VocExample(String id, Tensor image, Tensor bbox, Tensor label, Tensor difficult) {}

    /**
     * The annotation of one image as Java arrays (no image decoding).
     *
     * @param id image id
     * @param bbox (R, 4) flattened row-major: (ymin, xmin, ymax, xmax), 0-based pixels
     * @param label (R,) class indices
     * @param difficult (R,) difficult flags
     */
    public record Annotation(String id, float[] bbox, int[] label, boolean[] difficult) {
        /** Number of objects R. */
        public int size() {
            return label.length;
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
     * @throws IllegalArgumentException if the names are empty, blank or duplicated
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
        if (maxImagePixels < 1) throw new IllegalArgumentException("maxImagePixels must be >= 1, got " + maxImagePixels);
        this.maxImagePixels = maxImagePixels;
        this.dataDir = dataDir;
        this.split = split;
        this.useDifficult = useDifficult;
        if (labelNames == null || labelNames.isEmpty()) throw new IllegalArgumentException("no class names given");
        this.labelNames = List.copyOf(labelNames);
        for (int i = 0; i < this.labelNames.size(); i++) {
            String key = normalizeName(this.labelNames.get(i));
            if (key.isEmpty()) throw new IllegalArgumentException("class name " + i + " is blank");
            if (labelIndex.putIfAbsent(key, i) != null) {
                throw new IllegalArgumentException("class name '" + key + "' given twice");
            }
        }
        this.ids = readIds(dataDir.resolve("ImageSets").resolve("Main").resolve(split + ".txt"));
    }

    private static List<String> readIds(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new DataException(file, "split file not found", e);
        } catch (AccessDeniedException e) {
            throw new DataException(file, "split file not readable (access denied)", e);
        } catch (IOException e) {
            throw new DataException(file, "cannot read split file: " + e, e);
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
    public int size() {
        return ids.size();
    }

    /** Image ids in split-file order. */
    public List<String> ids() {
        return ids;
    }

    /** Foreground class names; label i is name i. */
    public List<String> labelNames() {
        return labelNames;
    }

    /** The dataset directory given at construction. */
    public Path dataDir() {
        return dataDir;
    }

    /** The split name given at construction. */
    public String split() {
        return split;
    }

    /** Whether difficult objects are kept. */
    public boolean useDifficult() {
        return useDifficult;
    }

    /** Path of image {@code i}'s annotation, {@code Annotations/<id>.xml}. */
    public Path annotationPath(int i) {
        return dataDir.resolve("Annotations").resolve(ids.get(i) + ".xml");
    }

    /** Path of image {@code i}'s JPEG, {@code JPEGImages/<id>.jpg}. */
    public Path imagePath(int i) {
        return dataDir.resolve("JPEGImages").resolve(ids.get(i) + ".jpg");
    }

    /**
     * Image {@code i} with its annotation ({@code VOCBboxDataset.get_example(i)}).
     *
     * @param i index in {@code [0, size())}
     * @return the example; tensors on the CPU, owned by the caller's {@code PointerScope}
     * @throws DataException for a missing or corrupt annotation or image (message names the file)
     * @throws IndexOutOfBoundsException if {@code i} is out of range
     */
    public VocExample get(int i) {
        Annotation a = annotation(i);
        Tensor image = ImageReader.readRgbChw(imagePath(i), maxImagePixels);
        int r = a.size();
        long[] label = new long[r], diff = new long[r];
        for (int k = 0; k < r; k++) {
            label[k] = a.label()[k];
            diff[k] = a.difficult()[k] ? 1 : 0;
        }
        return new VocExample(a.id(), image, Tensors.fromFloats(a.bbox(), r, 4), Tensors.fromLongs(label, r),
                Tensors.fromLongs(diff, r).to(ScalarType.Bool));
    }

    /**
     * Reads image {@code i}'s annotation only.
     *
     * @param i index in {@code [0, size())}
     * @throws DataException for a missing, unreadable or malformed XML file, a missing {@code <name>} or
     *     {@code <bndbox>} coordinate, an unknown class name, a non-numeric coordinate or difficult flag,
     *     or an empty or inverted box
     */
    public Annotation annotation(int i) {
        String id = ids.get(i);
        Path file = annotationPath(i);
        JsonNode root;
        try {
            root = XML.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new DataException(file, "annotation file not found", e);
        } catch (AccessDeniedException e) {
            throw new DataException(file, "annotation file not readable (access denied)", e);
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
        }
        int r = boxes.size();
        float[] bbox = new float[4 * r];
        int[] label = new int[r];
        boolean[] difficult = new boolean[r];
        for (int k = 0; k < r; k++) {
            System.arraycopy(boxes.get(k), 0, bbox, 4 * k, 4);
            label[k] = labels.get(k);
            difficult[k] = diffs.get(k);
        }
        return new Annotation(id, bbox, label, difficult);
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
