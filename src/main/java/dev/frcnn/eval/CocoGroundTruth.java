package dev.frcnn.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.error.UserInputException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * COCO ground truth as {@link CocoEval} needs it: the {@code images}, {@code annotations} and
 * {@code categories} of a COCO instances JSON (only the fields the box metric reads).
 *
 * @param images      the images, in file order; the evaluation takes their ids sorted ascending
 * @param annotations the ground-truth boxes, in file order (the order matters for matching ties)
 * @param categories  the categories, in file order; the evaluation takes their ids sorted ascending
 */
public record CocoGroundTruth(List<Image> images, List<Annotation> annotations, List<Category> categories) {

    /** One entry of {@code images}. Width, height and file name are informational (the metric ignores them). */
    public record Image(long id, int width, int height, String fileName) {}

    /** One entry of {@code categories}. */
    public record Category(long id, String name) {}

    /**
     * One entry of {@code annotations}.
     *
     * @param id         the annotation id; COCO ids are &ge; 1, and a detection matched to id 0 would read as
     *                   unmatched (as in pycocotools, which stores the matched id and tests it against 0)
     * @param imageId    the image it belongs to
     * @param categoryId its category
     * @param bbox       {@code [x, y, w, h]} in pixels, as COCO writes it (copied)
     * @param area       COCO's {@code area} field (the segmentation area). It, not {@code w*h}, decides the
     *                   area range (small/medium/large) of a ground-truth box
     * @param iscrowd    a crowd region: never a target; a detection inside it is ignored (IoU = intersection
     *                   over the detection's area)
     */
    public record Annotation(long id, long imageId, long categoryId, double[] bbox, double area, boolean iscrowd) {
        public Annotation {
            bbox = checkBox(bbox, "annotation " + id);
        }
    }

    public CocoGroundTruth {
        images = List.copyOf(images);
        annotations = List.copyOf(annotations);
        categories = List.copyOf(categories);
    }

    /**
     * Reads a COCO instances JSON. {@code iscrowd} defaults to 0 when absent; {@code id}, {@code image_id},
     * {@code category_id}, {@code bbox} (4 numbers) and {@code area} are required.
     *
     * @throws IOException              if the file cannot be read or is not JSON
     * @throws UserInputException       if a required field is missing or of the wrong type (the message names
     *                                  the file and the entry)
     */
    public static CocoGroundTruth read(Path file) throws IOException {
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        String where = file.toString();
        if (root == null || !root.isObject()) throw new UserInputException(where + ": not a JSON object");
        List<Image> images = new ArrayList<>();
        for (JsonNode n : array(root, "images", where)) {
            long id = integer(n, "id", where + ": image");
            images.add(new Image(id, (int) optInteger(n, "width", 0, where + ": image " + id),
                    (int) optInteger(n, "height", 0, where + ": image " + id),
                    n.path("file_name").asText("")));
        }
        List<Annotation> anns = new ArrayList<>();
        for (JsonNode n : array(root, "annotations", where)) {
            long id = integer(n, "id", where + ": annotation");
            String what = where + ": annotation " + id;
            anns.add(new Annotation(id, integer(n, "image_id", what), integer(n, "category_id", what),
                    box(n, what), number(n, "area", what), optInteger(n, "iscrowd", 0, what) != 0));
        }
        List<Category> cats = new ArrayList<>();
        for (JsonNode n : array(root, "categories", where)) {
            cats.add(new Category(integer(n, "id", where + ": category"), n.path("name").asText("")));
        }
        return new CocoGroundTruth(images, anns, cats);
    }

    static JsonNode array(JsonNode root, String field, String where) {
        JsonNode a = root.get(field);
        if (a == null || !a.isArray()) throw new UserInputException(where + ": '" + field + "' is not a list");
        return a;
    }

    static long integer(JsonNode n, String field, String what) {
        JsonNode v = n.get(field);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new UserInputException(what + ": '" + field + "' missing or not an integer");
        }
        return v.asLong();
    }

    private static long optInteger(JsonNode n, String field, long dflt, String what) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) return dflt;
        if (!v.isIntegralNumber() && !v.isBoolean()) {
            throw new UserInputException(what + ": '" + field + "' is not an integer: " + v);
        }
        return v.isBoolean() ? (v.asBoolean() ? 1 : 0) : v.asLong();
    }

    static double number(JsonNode n, String field, String what) {
        JsonNode v = n.get(field);
        if (v == null || !v.isNumber()) throw new UserInputException(what + ": '" + field + "' missing or not a number");
        double d = v.asDouble();
        if (!Double.isFinite(d)) throw new UserInputException(what + ": '" + field + "' is not finite");
        return d;
    }

    static double[] box(JsonNode n, String what) {
        JsonNode b = n.get("bbox");
        if (b == null || !b.isArray() || b.size() != 4) {
            throw new UserInputException(what + ": 'bbox' missing or not [x, y, w, h]");
        }
        double[] out = new double[4];
        for (int i = 0; i < 4; i++) {
            if (!b.get(i).isNumber()) throw new UserInputException(what + ": 'bbox' has a non-number");
            out[i] = b.get(i).asDouble();
        }
        return out;
    }

    static double[] checkBox(double[] bbox, String what) {
        Objects.requireNonNull(bbox, what + ": bbox");
        if (bbox.length != 4) throw new UserInputException(what + ": bbox is not [x, y, w, h]");
        for (double v : bbox) {
            if (!Double.isFinite(v)) throw new UserInputException(what + ": bbox is not finite");
        }
        return bbox.clone();
    }
}
