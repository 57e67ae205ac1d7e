package dev.frcnn.cli;

import dev.frcnn.api.Detector;
import dev.frcnn.api.DetectorOptions;
import dev.frcnn.assembly.LoadedModel;
import dev.frcnn.config.Config;
import dev.frcnn.data.DecodedImage;
import dev.frcnn.model.Detection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code frcnn detect}: detections on images, written as {@code OUT/<stem>.png} and {@code OUT/<stem>.json}; runs
 * {@link Detector}, the public API. It never writes over an input, lets two inputs' outputs collide or replaces a
 * file that an earlier {@code detect} did not write: {@link DetectOutputs} refuses such a command (exit code 2) before
 * anything is loaded or written. Every image's header is then checked ({@link LoadedModel.Plan#checkImage}) before the
 * weights are loaded; {@code --config} with a {@code .ckpt} is refused ({@link CheckpointConfigRule}). Each image is
 * decoded once ({@link Detector#decode}, with the config's {@code exif_orientation}); its detections, drawing and
 * JSON width/height all come from that one image.
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

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "image files")
    List<Path> images;

    @Override
    public Integer call() throws Exception {
        DetectOutputs.check(out, images); // before the weights are read or anything is written
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
        try (Detector detector = Detector.load(model.weights(), options)) {
            for (Path image : images) {
                // One decode per image: the detections, the drawing and the JSON's size all come from it.
                try (DecodedImage decoded = detector.decode(image)) {
                    List<Detection> dets = detector.detect(decoded);
                    Path png = DetectionOutput.write(out, image, decoded, dets);
                    System.out.printf("%s: %d detections -> %s%n", image, dets.size(), png);
                }
            }
        }
        return 0;
    }
}
