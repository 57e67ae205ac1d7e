package dev.frcnn.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The parts of a COCO instances JSON that detection uses, read with Jackson's streaming parser (one token at a time:
 * a file of 100k annotations is read in seconds and never held as a tree).
 *
 * <p>Read: {@code images[]} ({@code id}, {@code file_name}, {@code width}, {@code height}), {@code categories[]}
 * ({@code id}, {@code name}) and {@code annotations[]} ({@code id}, {@code image_id}, {@code category_id}, {@code bbox}
 * {@code [x, y, w, h]}, optional {@code area}, optional {@code iscrowd} 0/1, optional non-standard {@code difficult}
 * 0/1 written by our VOC converter). Every other field ({@code info}, {@code licenses}, {@code segmentation}, ...) is
 * skipped unread. The checks here are the file's own: types, missing fields, duplicate ids, references to unknown image or
 * category ids, negative sizes; the boxes' geometry is {@link CocoDataset}'s.
 *
 * @param images the images in file order
 * @param categories the categories in file order
 * @param annotations the annotations in file order
 */
public record CocoFile(List<Image> images, List<Category> categories, List<Annotation> annotations) {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build()).build();

    /**
     * @param id image id
     * @param fileName file name relative to the image folder
     * @param width width in pixels (&gt;= 1)
     * @param height height in pixels (&gt;= 1)
     */
    public record Image(long id, String fileName, int width, int height) {}

    /** @param id category id @param name its name */
    public record Category(int id, String name) {}

    /**
     * @param id annotation id
     * @param imageId the image it belongs to
     * @param categoryId its category
     * @param x left edge in pixels
     * @param y top edge in pixels
     * @param w width in pixels
     * @param h height in pixels
     * @param crowd COCO's {@code iscrowd == 1}
     * @param difficult the non-standard {@code difficult == 1} (VOC's flag, kept by our converter)
     * @param area COCO's {@code area} (the segmentation's area, which decides the COCO metric's small/medium/large),
     *     or NaN when the file gives none
     */
    public record Annotation(long id, long imageId, int categoryId, double x, double y, double w, double h,
                             boolean crowd, boolean difficult, double area) {}

    /**
     * Reads {@code file}.
     *
     * @throws DataException naming the file (and the image, annotation or category id where there is one) if it
     *     cannot be read, is not JSON, lacks {@code images}, {@code annotations} or {@code categories}, has a field of
     *     the wrong type or a missing required field, repeats an image, annotation or category id, has a width or
     *     height below 1 or a negative box size, or refers to an image or category id it does not define
     */
    public static CocoFile read(Path file) {
        try (InputStream in = Files.newInputStream(file); JsonParser p = FACTORY.createParser(in)) {
            return new Reader(file, p).read();
        } catch (IOException e) {
            if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j) {
                throw new DataException(file, "malformed COCO JSON: " + j.getOriginalMessage()
                        + (j.getLocation() == null ? "" : " at line " + j.getLocation().getLineNr()), e);
            }
            throw DataException.readFailure(file, "COCO annotation file", e);
        }
    }

    private static final class Reader {
        private final Path file;
        private final JsonParser p;

        Reader(Path file, JsonParser p) {
            this.file = file;
            this.p = p;
        }

        CocoFile read() throws IOException {
            if (p.nextToken() != JsonToken.START_OBJECT) throw fail("the file is not a JSON object");
            List<Image> images = null;
            List<Category> categories = null;
            List<Annotation> annotations = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                switch (name) {
                    case "images" -> images = readArray("images", this::readImage);
                    case "categories" -> categories = readArray("categories", this::readCategory);
                    case "annotations" -> annotations = readArray("annotations", this::readAnnotation);
                    default -> p.skipChildren();
                }
            }
            if (images == null) throw fail("no 'images' array");
            if (categories == null) throw fail("no 'categories' array");
            if (annotations == null) throw fail("no 'annotations' array");
            Set<Long> imageIds = new HashSet<>();
            for (Image im : images) {
                if (!imageIds.add(im.id())) throw fail("image id " + im.id() + " is given twice");
            }
            Set<Integer> categoryIds = new HashSet<>();
            for (Category c : categories) {
                if (!categoryIds.add(c.id())) throw fail("category id " + c.id() + " is given twice");
            }
            if (categories.isEmpty()) throw fail("'categories' is empty");
            Set<Long> annotationIds = new HashSet<>();
            for (Annotation a : annotations) {
                String where = "annotation id " + a.id() + " (image id " + a.imageId() + ")";
                if (!annotationIds.add(a.id())) throw fail("annotation id " + a.id() + " is given twice");
                if (!imageIds.contains(a.imageId())) throw fail(where + ": unknown image id " + a.imageId());
                if (!categoryIds.contains(a.categoryId())) throw fail(where + ": unknown category id " + a.categoryId());
            }
            return new CocoFile(List.copyOf(images), List.copyOf(categories), List.copyOf(annotations));
        }

        private interface Element<T> {
            T read(int index) throws IOException;
        }

        private <T> List<T> readArray(String name, Element<T> element) throws IOException {
            if (p.currentToken() != JsonToken.START_ARRAY) throw fail("'" + name + "' is not an array");
            List<T> out = new ArrayList<>();
            while (p.nextToken() != JsonToken.END_ARRAY) {
                if (p.currentToken() != JsonToken.START_OBJECT) {
                    throw fail("'" + name + "' entry " + out.size() + " is not an object");
                }
                out.add(element.read(out.size()));
            }
            return out;
        }

        private Image readImage(int index) throws IOException {
            Long id = null;
            String fileName = null;
            Long width = null, height = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String f = p.currentName();
                JsonToken t = p.nextToken();
                String where = id == null ? "image entry " + index : "image id " + id;
                switch (f) {
                    case "id" -> id = integer(t, where, f);
                    case "file_name" -> {
                        if (t != JsonToken.VALUE_STRING) throw fail(where + ": 'file_name' is not a string");
                        fileName = p.getText();
                    }
                    case "width" -> width = integer(t, where, f);
                    case "height" -> height = integer(t, where, f);
                    default -> p.skipChildren();
                }
            }
            if (id == null) throw fail("image entry " + index + ": no 'id'");
            String where = "image id " + id;
            if (fileName == null) throw fail(where + ": no 'file_name'");
            if (width == null) throw fail(where + ": no 'width'");
            if (height == null) throw fail(where + ": no 'height'");
            if (width < 1 || height < 1 || width > Integer.MAX_VALUE || height > Integer.MAX_VALUE) {
                throw fail(where + ": size " + width + " x " + height + " is not a positive image size");
            }
            return new Image(id, fileName, (int) (long) width, (int) (long) height);
        }

        private Category readCategory(int index) throws IOException {
            Long id = null;
            String name = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String f = p.currentName();
                JsonToken t = p.nextToken();
                String where = id == null ? "category entry " + index : "category id " + id;
                switch (f) {
                    case "id" -> id = integer(t, where, f);
                    case "name" -> {
                        if (t != JsonToken.VALUE_STRING) throw fail(where + ": 'name' is not a string");
                        name = p.getText();
                    }
                    default -> p.skipChildren();
                }
            }
            if (id == null) throw fail("category entry " + index + ": no 'id'");
            if (id < Integer.MIN_VALUE || id > Integer.MAX_VALUE) throw fail("category id " + id + " is out of range");
            if (name == null || name.isBlank()) throw fail("category id " + id + ": no 'name'");
            return new Category((int) (long) id, name);
        }

        private Annotation readAnnotation(int index) throws IOException {
            Long id = null, imageId = null, categoryId = null;
            double[] bbox = null;
            boolean crowd = false, difficult = false;
            double area = Double.NaN;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String f = p.currentName();
                JsonToken t = p.nextToken();
                String where = id == null ? "annotation entry " + index : "annotation id " + id;
                switch (f) {
                    case "id" -> id = integer(t, where, f);
                    case "image_id" -> imageId = integer(t, where, f);
                    case "category_id" -> categoryId = integer(t, where, f);
                    case "bbox" -> bbox = box(t, where);
                    case "iscrowd" -> crowd = flag(t, where, f);
                    case "difficult" -> difficult = flag(t, where, f);
                    case "area" -> area = optionalNumber(t, where, f);
                    default -> p.skipChildren();
                }
            }
            if (id == null) throw fail("annotation entry " + index + ": no 'id'");
            String where = "annotation id " + id + (imageId == null ? "" : " (image id " + imageId + ")");
            if (imageId == null) throw fail(where + ": no 'image_id'");
            if (categoryId == null) throw fail(where + ": no 'category_id'");
            if (bbox == null) throw fail(where + ": no 'bbox'");
            if (categoryId < Integer.MIN_VALUE || categoryId > Integer.MAX_VALUE) {
                throw fail(where + ": unknown category id " + categoryId);
            }
            if (bbox[2] < 0 || bbox[3] < 0) {
                throw fail(where + ": negative box size: bbox [x, y, w, h] = " + java.util.Arrays.toString(bbox));
            }
            return new Annotation(id, imageId, (int) (long) categoryId, bbox[0], bbox[1], bbox[2], bbox[3], crowd,
                    difficult, area);
        }

        private long integer(JsonToken t, String where, String field) throws IOException {
            if (t == JsonToken.VALUE_NUMBER_INT) {
                if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                    throw fail(where + ": '" + field + "' is out of range: " + p.getText());
                }
                return p.getLongValue();
            }
            if (t == JsonToken.VALUE_NUMBER_FLOAT) {
                double d = p.getDoubleValue();
                if (d == Math.rint(d) && Math.abs(d) < 9e15) return (long) d;
            }
            throw fail(where + ": '" + field + "' is not an integer: " + text(t));
        }

        /** A finite number, or NaN for {@code null}. */
        private double optionalNumber(JsonToken t, String where, String field) throws IOException {
            if (t == JsonToken.VALUE_NULL) return Double.NaN;
            if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
                double d = p.getDoubleValue();
                if (Double.isFinite(d)) return d;
            }
            throw fail(where + ": '" + field + "' is not a finite number: " + text(t));
        }

        private boolean flag(JsonToken t, String where, String field) throws IOException {
            if (t == JsonToken.VALUE_TRUE) return true;
            if (t == JsonToken.VALUE_FALSE) return false;
            long v = integer(t, where, field);
            if (v != 0 && v != 1) throw fail(where + ": '" + field + "' is neither 0 nor 1: " + v);
            return v == 1;
        }

        private double[] box(JsonToken t, String where) throws IOException {
            if (t != JsonToken.START_ARRAY) throw fail(where + ": 'bbox' is not an array [x, y, w, h]");
            double[] b = new double[4];
            int n = 0;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT) {
                    throw fail(where + ": 'bbox' holds a non-number: " + text(t));
                }
                if (n < 4) b[n] = p.getDoubleValue();
                n++;
            }
            if (n != 4) throw fail(where + ": 'bbox' has " + n + " numbers, not 4 [x, y, w, h]");
            for (double v : b) {
                if (!Double.isFinite(v)) throw fail(where + ": 'bbox' holds a non-finite number");
            }
            return b;
        }

        private String text(JsonToken t) throws IOException {
            if (t == JsonToken.START_ARRAY || t == JsonToken.START_OBJECT) {
                p.skipChildren();
                return t == JsonToken.START_ARRAY ? "an array" : "an object";
            }
            return t == JsonToken.VALUE_STRING ? "\"" + p.getText() + "\"" : p.getText();
        }

        private DataException fail(String problem) {
            return new DataException(file, problem);
        }
    }
}
