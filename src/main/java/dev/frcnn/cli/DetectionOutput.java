package dev.frcnn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.frcnn.data.DecodedImage;
import dev.frcnn.model.Detection;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Point;
import org.bytedeco.opencv.opencv_core.Size;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.bytedeco.opencv.global.opencv_imgproc.*;

/**
 * Writes {@code <stem>.png} (boxes, class names, scores drawn) and {@code <stem>.json} for one image, both from the
 * image the detections were made on ({@link DecodedImage}): the drawing shows its pixels and the JSON gives its width
 * and height, so boxes, picture and size are in one frame (after the EXIF orientation, or the stored one under
 * {@code exif_orientation: ignore}), and the file is not decoded again.
 */
final class DetectionOutput {
    private static final ObjectMapper JSON = new ObjectMapper();

    private DetectionOutput() {}

    static String stem(Path image) {
        String n = image.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    /** The detect JSON of shared/design.md: image, width, height, detections in original-image pixels. */
    static ObjectNode json(Path image, int width, int height, List<Detection> dets) {
        ObjectNode root = JSON.createObjectNode();
        root.put("image", image.toString());
        root.put("width", width);
        root.put("height", height);
        ArrayNode arr = root.putArray("detections");
        for (Detection d : dets) {
            ObjectNode o = arr.addObject();
            o.put("label", d.label());
            o.put("class_index", d.classIndex());
            o.put("score", d.score());
            o.put("xmin", d.xmin());
            o.put("ymin", d.ymin());
            o.put("xmax", d.xmax());
            o.put("ymax", d.ymax());
        }
        return root;
    }

    /**
     * @param outDir the output directory (created if missing)
     * @param image the input file: its stem names the outputs, and the JSON's {@code image} is its path
     * @param decoded that file as decoded for the detection (not closed here)
     * @param dets the detections, in {@code decoded}'s pixels
     * @return the PNG path
     * @throws IOException if a file cannot be written (the message names it)
     */
    @SuppressWarnings("try") // the scope frees the drawing's temporaries; its variable is unused by design
    static Path write(Path outDir, Path image, DecodedImage decoded, List<Detection> dets) throws IOException {
        Files.createDirectories(outDir);
        try (PointerScope scope = new PointerScope()) {
            Mat img = bgr(decoded);
            int thick = Math.max(1, Math.round(Math.max(img.rows(), img.cols()) / 300f));
            double fontScale = Math.max(0.4, Math.max(img.rows(), img.cols()) / 900.0);
            for (Detection d : dets) {
                org.bytedeco.opencv.opencv_core.Scalar col = color(d.classIndex());
                Point p1 = new Point(Math.round(d.xmin()), Math.round(d.ymin()));
                Point p2 = new Point(Math.round(d.xmax()), Math.round(d.ymax()));
                rectangle(img, p1, p2, col, thick, LINE_AA, 0);
                String text = String.format("%s %.2f", d.label(), d.score());
                int[] base = new int[1];
                Size ts = getTextSize(text, FONT_HERSHEY_SIMPLEX, fontScale, 1, base);
                int y = Math.max(ts.height() + 2, p1.y());
                rectangle(img, new Point(p1.x(), y - ts.height() - 4), new Point(p1.x() + ts.width() + 4, y), col, -1, LINE_8, 0);
                putText(img, text, new Point(p1.x() + 2, y - 3), FONT_HERSHEY_SIMPLEX, fontScale,
                        new org.bytedeco.opencv.opencv_core.Scalar(255, 255, 255, 0), 1, LINE_AA, false);
            }
            String stem = stem(image);
            Path png = outDir.resolve(stem + ".png");
            // Encoded in memory and written by Java, so that a failed write (a full disk) says why, naming the file.
            byte[] encoded;
            try (BytePointer buf = new BytePointer()) {
                if (!imencode(".png", img, buf)) throw new IOException(png + ": OpenCV could not encode the image");
                encoded = new byte[(int) buf.limit()];
                buf.get(encoded);
            }
            Path jsonFile = outDir.resolve(stem + ".json");
            write(png, encoded);
            write(jsonFile, JSON.writerWithDefaultPrettyPrinter()
                    .writeValueAsString(json(image, decoded.width(), decoded.height(), dets)).getBytes(StandardCharsets.UTF_8));
            return png;
        }
    }

    /**
     * The decoded pixels as OpenCV's 8-bit BGR, in the caller's scope. They are integers 0..255 stored as floats, so
     * the conversion is exact: the drawing shows the pixels the model saw.
     */
    private static Mat bgr(DecodedImage d) {
        Tensor hwc = d.rgbChw().permute(1, 2, 0).to(ScalarType.Byte).contiguous();
        Mat rgb = new Mat(d.height(), d.width(), CV_8UC3, hwc.data_ptr()); // borrows the tensor's memory
        Mat bgr = new Mat();
        cvtColor(rgb, bgr, COLOR_RGB2BGR);
        return bgr;
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw dev.frcnn.io.WriteFailures.naming(file, e); // a full disk names no file by itself
        }
    }

    private static org.bytedeco.opencv.opencv_core.Scalar color(int c) {
        double[][] palette = {{230, 25, 75}, {60, 180, 75}, {0, 130, 200}, {245, 130, 48}, {145, 30, 180},
                {70, 240, 240}, {240, 50, 230}, {210, 245, 60}, {0, 128, 128}, {170, 110, 40}};
        double[] rgb = palette[c % palette.length];
        return new org.bytedeco.opencv.opencv_core.Scalar(rgb[2], rgb[1], rgb[0], 0);
    }
}
