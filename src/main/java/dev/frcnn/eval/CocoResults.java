package dev.frcnn.eval;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.frcnn.data.CocoBox;
import dev.frcnn.data.CocoCategories;
import dev.frcnn.io.WriteFailures;
import dev.frcnn.model.Detection;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Detections in COCO's results format, the list pycocotools' {@code COCO.loadRes}, FiftyOne and other tools read:
 * {@code [{"image_id": 42, "category_id": 18, "bbox": [x, y, w, h], "score": 0.97}, ...]}.
 *
 * <p>Ids are the dataset's own ({@link dev.frcnn.data.DetectionDataset#imageId}, the model's or dataset's
 * {@link CocoCategories}): a COCO file's, or for VOC data those {@code bin/frcnn convert} writes, so that a results
 * file and the converted ground truth agree. Boxes are {@link CocoBox#xywh} of the detection's
 * {@code (ymin, xmin, ymax, xmax)} in original-image pixels; scores and coordinates are written as the doubles of the
 * float32 values (Java's shortest round-tripping decimal, which Python's {@code json} reads back to the same double),
 * so pycocotools sees exactly the boxes and scores {@link CocoEval} is given here.
 */
public final class CocoResults {
    private static final JsonFactory JSON = new JsonFactory();

    private CocoResults() {}

    /**
     * One image's detections.
     *
     * @param imageId the image's COCO id
     * @param detections its detections, in the model's order (by class, then descending score)
     */
    public record ImageDetections(long imageId, List<Detection> detections) {
        public ImageDetections {
            detections = List.copyOf(detections);
        }
    }

    /**
     * The detections as {@link CocoEval}'s input, in the order given (image by image; ids 1, 2, ... as
     * {@code loadRes} numbers the entries of a results file).
     *
     * @param images the images' detections
     * @param categories label to category id ({@link Detection#classIndex()} is the label)
     * @return the detections
     * @throws IndexOutOfBoundsException if a detection's class index is not a label of {@code categories}
     */
    public static CocoDetections of(List<ImageDetections> images, CocoCategories categories) {
        List<CocoDetections.Detection> out = new ArrayList<>();
        long id = 0;
        for (ImageDetections im : images) {
            for (Detection d : im.detections()) {
                out.add(new CocoDetections.Detection(++id, im.imageId(), categories.id(d.classIndex()),
                        CocoBox.xywh(d.ymin(), d.xmin(), d.ymax(), d.xmax()), d.score()));
            }
        }
        return new CocoDetections(out);
    }

    /**
     * Writes {@code detections} as a results file (a JSON list, in their order; {@code id}s are not written).
     *
     * @throws IOException naming the file if it cannot be written
     */
    public static void write(Path file, CocoDetections detections) throws IOException {
        try (OutputStream out = Files.newOutputStream(file);
             JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
            g.writeStartArray();
            for (CocoDetections.Detection d : detections.detections()) {
                g.writeStartObject();
                g.writeNumberField("image_id", d.imageId());
                g.writeNumberField("category_id", d.categoryId());
                g.writeArrayFieldStart("bbox");
                for (double v : d.bbox()) g.writeNumber(v);
                g.writeEndArray();
                g.writeNumberField("score", d.score());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeRaw('\n');
        } catch (IOException e) {
            throw WriteFailures.naming(file, e);
        }
    }
}
