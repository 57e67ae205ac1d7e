package dev.frcnn.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * COCO category ids (non-contiguous, e.g. 1..90 with gaps) mapped to the model's contiguous 0-based labels and back.
 * Label {@code i} is the category with the i-th smallest id: the order is that of the category list sorted by id,
 * whatever the order in the file. Immutable.
 */
public final class CocoCategories {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final int[] ids;
    private final List<String> names;
    private final Map<Integer, Integer> labelOf = new HashMap<>();

    /**
     * @param ids category ids, any order, distinct
     * @param names their names, in the same order as {@code ids}, non-blank
     * @throws IllegalArgumentException if the lists differ in length or are empty, an id repeats, or a name is blank
     */
    public CocoCategories(List<Integer> ids, List<String> names) {
        if (ids.size() != names.size()) {
            throw new IllegalArgumentException(ids.size() + " category ids but " + names.size() + " names");
        }
        if (ids.isEmpty()) throw new IllegalArgumentException("no categories");
        Integer[] order = new Integer[ids.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Integer.compare(ids.get(a), ids.get(b)));
        this.ids = new int[order.length];
        List<String> n = new ArrayList<>(order.length);
        for (int label = 0; label < order.length; label++) {
            int id = ids.get(order[label]);
            String name = names.get(order[label]);
            if (name == null || name.isBlank()) throw new IllegalArgumentException("category id " + id + " has a blank name");
            if (labelOf.putIfAbsent(id, label) != null) throw new IllegalArgumentException("category id " + id + " given twice");
            this.ids[label] = id;
            n.add(name);
        }
        this.names = List.copyOf(n);
    }

    /**
     * Categories with ids 1..K for {@code names} in order: label {@code i} is id {@code i + 1}. The ids
     * {@link DatasetConverter#vocToCoco} gives a VOC dataset's classes, and so the COCO ids of every dataset without
     * its own ({@link DetectionDataset#categories()}).
     *
     * @throws IllegalArgumentException if {@code names} is empty or a name is blank
     */
    public static CocoCategories numbered(List<String> names) {
        List<Integer> ids = new ArrayList<>(names.size());
        for (int i = 0; i < names.size(); i++) ids.add(i + 1);
        return new CocoCategories(ids, names);
    }

    /** Number of categories (foreground classes). */
    public int size() {
        return ids.length;
    }

    /** Category names by label: label i is name i. */
    public List<String> names() {
        return names;
    }

    /**
     * The label of a category id.
     *
     * @throws IllegalArgumentException if the id is not one of the categories
     */
    public int label(int categoryId) {
        Integer l = labelOf.get(categoryId);
        if (l == null) throw new IllegalArgumentException("unknown category id " + categoryId);
        return l;
    }

    /** Whether {@code categoryId} is one of the categories. */
    public boolean contains(int categoryId) {
        return labelOf.containsKey(categoryId);
    }

    /**
     * The category id of a label.
     *
     * @throws IndexOutOfBoundsException if {@code label} is not in {@code [0, size())}
     */
    public int id(int label) {
        return ids[label];
    }

    /** The name of a label. @throws IndexOutOfBoundsException if {@code label} is out of range */
    public String name(int label) {
        return names.get(label);
    }

    /**
     * The mapping as JSON, COCO's own form: {@code [{"id": 1, "name": "person"}, ...]} in label order.
     */
    public String toJson() {
        ArrayNode a = JSON.createArrayNode();
        for (int i = 0; i < ids.length; i++) {
            ObjectNode o = a.addObject();
            o.put("id", ids[i]);
            o.put("name", names.get(i));
        }
        return a.toString();
    }

    /**
     * Reads {@link #toJson()}'s form (or a COCO file's {@code categories} array; other fields are ignored).
     *
     * @throws IllegalArgumentException if the text is not such an array, an entry lacks an integer {@code id} or a
     *     string {@code name}, or the categories are not valid for {@link #CocoCategories(List, List)}
     */
    public static CocoCategories fromJson(String json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("malformed category JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isArray()) throw new IllegalArgumentException("category JSON is not an array");
        List<Integer> ids = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (JsonNode o : root) {
            JsonNode id = o.get("id"), name = o.get("name");
            if (id == null || !id.canConvertToInt() || !id.isIntegralNumber()) {
                throw new IllegalArgumentException("category entry " + ids.size() + " has no integer 'id'");
            }
            if (name == null || !name.isTextual()) {
                throw new IllegalArgumentException("category id " + id.asInt() + " has no string 'name'");
            }
            ids.add(id.asInt());
            names.add(name.asText());
        }
        return new CocoCategories(ids, names);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CocoCategories c && Arrays.equals(ids, c.ids) && names.equals(c.names);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + names.hashCode();
    }

    @Override
    public String toString() {
        return toJson();
    }
}
