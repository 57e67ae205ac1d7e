/**
 * The public API: load a Faster R-CNN detector once, detect objects in images from any number of threads.
 *
 * <pre>{@code
 * import dev.frcnn.api.Detector;
 * import dev.frcnn.api.DetectorOptions;
 * import dev.frcnn.model.Detection;
 *
 * try (Detector detector = Detector.load(Path.of("fasterrcnn.pth"),
 *         DetectorOptions.builder().preset("visualize").build())) {
 *     List<Detection> dets = detector.detect(Path.of("street.jpg"));
 *     for (Detection d : dets) {
 *         System.out.printf("%s %.2f %.1f %.1f %.1f %.1f%n",
 *                 d.label(), d.score(), d.xmin(), d.ymin(), d.xmax(), d.ymax());
 *     }
 * }
 * }</pre>
 *
 * <p>{@link dev.frcnn.api.Detector} is the entry point (thread-safety and memory are described there);
 * {@link dev.frcnn.api.DetectorOptions} sets device, thresholds (or the reference's presets), image sizes and
 * LibTorch threads; results are {@link dev.frcnn.model.Detection} records in original-image pixels.
 */
package dev.frcnn.api;
