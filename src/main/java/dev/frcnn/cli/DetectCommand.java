package dev.frcnn.cli;

import dev.frcnn.api.Detector;
import dev.frcnn.api.DetectorOptions;
import dev.frcnn.assembly.LoadedModel;
import dev.frcnn.config.Config;
import dev.frcnn.data.DecodedImage;
import dev.frcnn.eval.CocoResults;
import dev.frcnn.model.Detection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code frcnn detect}: detections on images, written as {@code OUT/<stem>.png} and {@code OUT/<stem>.json}; runs
 * {@link Detector}, the public API. It never writes over an input, lets two inputs' outputs collide or replaces a
 * file that an earlier {@code detect} did not write: {@link DetectOutputs} refuses such a command (exit code 2) before
 * anything is loaded or written. Every image's header is then checked ({@link LoadedModel.Plan#checkImage}) before the
 * weights are loaded; {@code --config} with a {@code .ckpt} is refused ({@link CheckpointConfigRule}). Each image is
 * decoded once ({@link Detector#decode}, with the config's {@code exif_orientation}); its detections, drawing and
 * JSON width/height all come from that one image.
 *
 * <p>{@code --format coco} writes instead one file, {@code OUT/results.json}: every input's detections in COCO's
 * results format ({@link CocoResults}), {@code image_id} the file's stem as an integer (COCO's file names),
 * {@code category_id} the checkpoint's COCO category ids (ids 1..K in class order for a model trained on VOC data or
 * a PyTorch file, as {@code bin/frcnn convert} numbers VOC classes); {@link DetectOutputs#checkCoco} refuses inputs
 * without such names before anything is loaded.
 */
@Command(name = "detect", mixinStandardHelpOptions = true,
        description = "Detect objects in images with a trained model (.ckpt or PyTorch .pth).")
final class DetectCommand implements Callable<Integer> {
    @Mixin
    WeightsOptions model;

    @Option(names = "--out", required = true, description = "output directory: OUT/<stem>.png and OUT/<stem>.json per "
            + "image; refused (nothing written) if that would overwrite an input or a file an earlier detect did not "
            + "write, or if two images share a stem")
    Path out;

    @Mixin
    DeviceOption device;

    @Option(names = "--preset", defaultValue = "visualize",
            description = "visualize (score > 0.7) | evaluate (score > 0.05) (default: ${DEFAULT-VALUE})")
    String preset;

    @Mixin
    SetOption sets;

    @Option(names = "--format", defaultValue = "detect", description = "detect: OUT/<stem>.png and OUT/<stem>.json "
            + "per image (default); coco: one OUT/results.json, COCO's results format (image_id = the file stem as an "
            + "integer, as COCO's 000000000139.jpg; category_id = the model's COCO category ids), no drawings")
    String format;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "image files")
    List<Path> images;

    @Override
    public Integer call() throws Exception {
        if (!format.equals("detect") && !format.equals("coco")) {
            throw new BadInputException("--format must be detect or coco, got '" + format + "'");
        }
        boolean coco = format.equals("coco");
        // before the weights are read or anything is written
        Map<Path, Long> imageIds = coco ? DetectOutputs.checkCoco(out, images) : null;
        if (!coco) DetectOutputs.check(out, images);
        if (!preset.equals("visualize") && !preset.equals("evaluate")) {
            throw new BadInputException("--preset must be visualize or evaluate, got '" + preset + "'");
        }
        device.resolve(); // validates --device before the weights are read
        Config base = model.baseConfig();
        DetectorOptions options = DetectorOptions.builder().device(device.name()).preset(preset).config(base)
                .configOverrides(sets.overrides()).build();
        // Every input's header (format, max_image_pixels, resized size) before the weights are loaded.
        LoadedModel.Plan plan = LoadedModel.plan(model.weights(), base, sets.overrides());
        for (Path image : images) plan.checkImage(image);
        List<CocoResults.ImageDetections> found = new ArrayList<>();
        try (Detector detector = Detector.load(model.weights(), options)) {
            for (Path image : images) {
                // One decode per image: the detections, the drawing and the JSON's size all come from it.
                try (DecodedImage decoded = detector.decode(image)) {
                    List<Detection> dets = detector.detect(decoded);
                    if (coco) {
                        Long id = imageIds.remove(image); // null: the same file given again
                        if (id != null) found.add(new CocoResults.ImageDetections(id, dets));
                        System.out.printf("%s: %d detections (image id %s)%n", image, dets.size(),
                                id == null ? "given before" : id);
                    } else {
                        Path png = DetectionOutput.write(out, image, decoded, dets);
                        System.out.printf("%s: %d detections -> %s%n", image, dets.size(), png);
                    }
                }
            }
        }
        if (coco) {
            java.nio.file.Files.createDirectories(out);
            Path file = out.resolve(DetectOutputs.COCO_RESULTS);
            var results = CocoResults.of(found, plan.categories());
            CocoResults.write(file, results);
            System.out.printf("%d detections of %d images -> %s%n", results.detections().size(), found.size(), file);
        }
        return 0;
    }
}
