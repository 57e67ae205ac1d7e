package dev.frcnn.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.error.UserInputException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Detections in the COCO results format (a list of {@code {image_id, category_id, bbox, score}}), as
 * pycocotools' {@code COCO.loadRes} turns them into annotations: the id of a detection is its 1-based
 * position in the list, its area is {@code w*h}, and it is never a crowd.
 *
 * @param detections the detections, in file order (the order breaks score ties)
 */
public record CocoDetections(List<Detection> detections) {

    /**
     * One detection.
     *
     * @param id         its result id (1-based position in the results list)
     * @param imageId    the image id (must be an image of the ground truth)
     * @param categoryId the category id (one not in the ground truth's categories never takes part)
     * @param bbox       {@code [x, y, w, h]} in pixels (copied)
     * @param score      the confidence (finite)
     */
    public record Detection(long id, long imageId, long categoryId, double[] bbox, double score) {
        public Detection {
            bbox = CocoGroundTruth.checkBox(bbox, "detection " + id);
            if (!Double.isFinite(score)) throw new UserInputException("detection " + id + ": score is not finite");
        }

        /** {@code w*h}, as {@code loadRes} sets it; decides the area range of an unmatched detection. */
        public double area() {
            return bbox[2] * bbox[3];
        }
    }

    public CocoDetections {
        detections = List.copyOf(detections);
    }

    /**
     * A results file: a JSON list of {@code {image_id, category_id, bbox, score}}; ids are assigned 1, 2, ...
     *
     * @throws IOException        if the file cannot be read or is not JSON
     * @throws UserInputException if it is not a list, or an entry lacks a field or has one of the wrong type (the
     *                            message names the file and the entry)
     */
    public static CocoDetections read(Path file) throws IOException {
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        String where = file.toString();
        if (root == null || !root.isArray()) throw new UserInputException(where + ": not a JSON list");
        List<Detection> out = new ArrayList<>(root.size());
        long id = 0;
        for (JsonNode n : root) {
            id++;
            String what = where + ": result " + id;
            out.add(new Detection(id, CocoGroundTruth.integer(n, "image_id", what),
                    CocoGroundTruth.integer(n, "category_id", what), CocoGroundTruth.box(n, what),
                    CocoGroundTruth.number(n, "score", what)));
        }
        return new CocoDetections(out);
    }
}
