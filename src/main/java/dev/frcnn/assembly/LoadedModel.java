package dev.frcnn.assembly;

import dev.frcnn.config.Config;
import dev.frcnn.data.CocoCategories;
import dev.frcnn.data.ImageHeader;
import dev.frcnn.data.ImageReader;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.error.UserInputException;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.io.ModelWeights;
import dev.frcnn.io.WeightsDoNotFitException;
import dev.frcnn.io.WeightsFormatException;
import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.io.PthReader;
import dev.frcnn.model.DetectionModel;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.GeneralizedRCNNTransform;
import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.model.backbone.ResNetFPNBackbone;
import dev.frcnn.tensor.ComputeDevice;
import org.bytedeco.pytorch.Device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A detector built from a weights file, in eval mode on its device, with the config, class names and
 * preprocessing it was built from. {@link #load} is the one loading path of the project: the CLI's
 * {@code detect}, {@code eval}, {@code demo} and {@code bench} and {@code dev.frcnn.api.Detector} all load through
 * it. Internal (this package is not exported by the module).
 *
 * @param model the detector, in eval mode: a reference-family {@link FasterRCNN} or a {@link TorchvisionFasterRCNN}
 *     ({@link ModelFamily})
 * @param config the config it was built from (overrides applied)
 * @param classNames foreground class names, label i = name i
 * @param preprocessing min/max size and normalisation of {@code config}
 * @param weights the file it was loaded from
 * @param categories the COCO category ids and names of the classes (label i = category i): a checkpoint's stored ones,
 *     else ids 1..K in class order ({@link Checkpoint.Meta#categoriesOrNumbered()})
 */
public record LoadedModel(DetectionModel model, Config config, List<String> classNames, Preprocessing preprocessing,
                          Path weights, CocoCategories categories) {

    /**
     * What a weights file will be loaded as, known before its tensors are read: the config (a checkpoint's own, read
     * from its {@code meta.json} alone, or the base config for a PyTorch file; overrides applied) and class names.
     * It checks inputs against that config cheaply, so that a bad image is refused before the weights (550 MB for
     * VGG16) are loaded.
     *
     * @param weights the weights file
     * @param config the config the model will be built from
     * @param classNames foreground class names
     * @param checkpoint whether the file is our {@code .ckpt}
     * @param categories the classes' COCO category ids and names ({@link Checkpoint.Meta#categoriesOrNumbered()};
     *     1..K for a PyTorch file)
     */
    public record Plan(Path weights, Config config, List<String> classNames, boolean checkpoint,
                       CocoCategories categories) {
        /**
         * Checks an image file from its header only, as the loaded model would: it exists and is readable, its
         * format is supported, its pixel count is within {@code max_image_pixels}, and the preprocessing
         * ({@code min_size}, {@code max_size}) resizes it to at least the backbone's smallest input per side.
         *
         * @param image an image file
         * @return its header, in the frame {@code exif_orientation} decodes it in
         * @throws dev.frcnn.data.ImageTooLargeException above {@code max_image_pixels}
         * @throws dev.frcnn.data.ImageTooSmallException if a resized side would be below the backbone's minimum
         * @throws dev.frcnn.data.DataException if it is missing, unreadable or not a supported image; every message
         *     names the file
         */
        public ImageHeader checkImage(Path image) {
            ImageHeader h = ImageReader.readHeader(image, config.maxImagePixels(), config.exifOrientationMode());
            config.preprocessing().checkResizable(image, h.height(), h.width(),
                    ModelFamily.of(config).minInputSide(config));
            return h;
        }
    }

    /**
     * Resolves the config and class names of a weights file without reading its tensors: a {@code .ckpt} carries
     * its own ({@link Checkpoint.Meta}, from its {@code meta.json}); a PyTorch file is described by {@code base} and
     * the class names of {@link Config#classNamesOrVoc()} (no {@code class_names} = the 20 VOC classes).
     * {@code overrides} apply to both.
     *
     * @param weights a {@code .ckpt} or {@code .pth} file
     * @param base config for PyTorch files
     * @param overrides {@code key=value} config overrides (as {@code --set})
     * @return the plan
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws dev.frcnn.io.WeightsFormatException if a checkpoint's metadata is unreadable
     * @throws dev.frcnn.config.ConfigException for a bad override
     * @throws IOException on read errors
     */
    public static Plan plan(Path weights, Config base, List<String> overrides) throws IOException {
        return plan(weights, base, c -> c.withOverrides(overrides));
    }

    /**
     * As {@link #plan(Path, Config, List)} with the changes to the weights' config given as a function of typed
     * settings (e.g. {@code c -> c.withMinSize(800)}), as {@code dev.frcnn.api.DetectorOptions} gives them.
     *
     * @param weights a {@code .ckpt} or {@code .pth} file
     * @param base config for PyTorch files
     * @param settings applied to the weights' config (a checkpoint's own, or {@code base})
     * @return the plan
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws dev.frcnn.io.WeightsFormatException if a checkpoint's metadata is unreadable
     * @throws dev.frcnn.config.ConfigException for a bad setting
     * @throws IOException on read errors
     */
    public static Plan plan(Path weights, Config base, UnaryOperator<Config> settings) throws IOException {
        if (!Files.isRegularFile(weights)) throw new NoSuchFileException(weights.toString());
        if (ModelWeights.isCheckpoint(weights)) {
            Checkpoint.Meta meta = Checkpoint.Meta.fromJson(weights, Checkpoints.readMeta(weights));
            return new Plan(weights, settings.apply(meta.config()), meta.classNames(), true,
                    meta.categoriesOrNumbered());
        }
        Config cfg = ModelFamily.resolve(base, settings);
        List<String> names = ModelFamily.of(cfg).classNames(cfg);
        return new Plan(weights, cfg, names, false, CocoCategories.numbered(names));
    }

    /**
     * Builds the model for {@code weights} and loads them: a {@code .ckpt} carries its own config and class names
     * ({@link Checkpoint.Meta}); a PyTorch file is read with {@code base} and the class names of
     * {@link Config#classNamesOrVoc()} (no {@code class_names} = the 20 VOC classes). {@code overrides} apply
     * to both. Weights without a detector's heads (a backbone's ImageNet state dict) are refused: their RPN and RoI
     * head would be random, and so would every box.
     *
     * @param weights a {@code .ckpt} or {@code .pth} file
     * @param base config for PyTorch files
     * @param overrides {@code key=value} config overrides (as {@code --set})
     * @param device where the model runs
     * @return the loaded model in eval mode
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws dev.frcnn.io.WeightsFormatException if it is not a readable weights file, or holds a backbone's
     *     pretrained weights only (the message says so, and how to train a detector from them)
     * @throws WeightsDoNotFitException if its tensors do not fit the model the config describes
     * @throws dev.frcnn.config.ConfigException for a bad override
     * @throws IOException on read errors
     */
    public static LoadedModel load(Path weights, Config base, List<String> overrides, Device device) throws IOException {
        return load(plan(weights, base, overrides), device);
    }

    /**
     * {@link #load(Path, Config, List, Device)} of a resolved {@link Plan}.
     *
     * @param plan from {@link #plan}
     * @param device where the model runs
     * @return the loaded model in eval mode
     * @throws dev.frcnn.io.WeightsFormatException if the file is not a readable weights file or holds backbone
     *     weights only
     * @throws WeightsDoNotFitException if its tensors do not fit the model the config describes
     * @throws IOException on read errors
     */
    public static LoadedModel load(Plan plan, Device device) throws IOException {
        Path weights = plan.weights();
        if (ModelFamily.of(plan.config()).isTorchvision()) return loadTorchvision(plan, device);
        ModelWeights.Loaded w = ModelWeights.read(weights);
        if (w.kind().backboneOnly()) {
            String arch = ModelWeights.guessBackbone(w.stateDict());
            int n = w.stateDict().size();
            w.stateDict().values().forEach(org.bytedeco.pytorch.Tensor::close);
            throw new WeightsFormatException(weights, "holds " + (arch == null ? "a backbone's" : "a " + arch
                    + " backbone's") + " ImageNet weights only (" + n + " tensors; no RPN or RoI head), so every box "
                    + "would come from random layers: train a detector from it with bin/frcnn train --set backbone="
                    + (arch == null ? "<its backbone>" : arch) + " --set load_path=" + weights
                    + ", then detect with the checkpoint that training writes (OUT/best.ckpt)");
        }
        Config cfg = plan.config();
        List<String> names = plan.classNames();
        FasterRCNN model = Detectors.create(cfg, names);
        try {
            Detectors.load(model, cfg, w, weights.toString());
        } catch (WeightsMismatchException e) { // the file's keys or shapes
            model.close();
            throw new WeightsDoNotFitException(weights, "weights do not fit the " + cfg.backbone() + " model with "
                    + names.size() + " classes: " + e.getMessage(), e);
        } catch (RuntimeException e) { // anything else is not the file's fault: passed on as it is
            model.close();
            throw e;
        }
        model.to(device, false);
        model.train(false);
        return new LoadedModel(model, cfg, names, cfg.preprocessing(), weights, plan.categories());
    }

    /**
     * {@link #load(Plan, Device)} for torchvision's families ({@code resnet50_fpn}, {@code resnet50_fpn_v2}): the
     * file's state dict (a torchvision {@code .pth} as it is, or our {@code .ckpt}'s model tensors) into the
     * family's {@link TorchvisionFasterRCNN} whose transform has the config's min/max size. The norm eps is the
     * variant's {@link dev.frcnn.model.TorchvisionVariant#batchNormEps} of the file's keys: for {@code resnet50_fpn}
     * FrozenBatchNorm2d eps 0.0 (torchvision's COCO checkpoints), or 1e-5 when the file has {@code num_batches_tracked}
     * entries (saved from a model built without weights, whose BatchNorm2d uses 1e-5); for {@code resnet50_fpn_v2}
     * always 1e-5 (its BatchNorm2d's).
     */
    private static LoadedModel loadTorchvision(Plan plan, Device device) throws IOException {
        Path weights = plan.weights();
        Config cfg = plan.config();
        List<String> names = plan.classNames();
        java.util.Map<String, org.bytedeco.pytorch.Tensor> sd = plan.checkpoint()
                ? ModelWeights.read(weights).stateDict() : PthReader.readStateDict(weights);
        org.bytedeco.pytorch.Tensor cls = sd.get(CLS_SCORE_WEIGHT);
        if (cls != null && cls.dim() == 2 && cls.size(0) != names.size() + 1) {
            long k = cls.size(0);
            sd.values().forEach(org.bytedeco.pytorch.Tensor::close);
            throw new WeightsDoNotFitException(weights, "its box predictor has " + k + " classes (background "
                    + "included) but " + (cfg.classNames().isEmpty()
                    ? "no class_names were given, and torchvision's COCO category names fit 91 classes: set "
                      + "class_names to its " + (k - 1) + " foreground class names"
                    : "class_names has " + names.size() + " names (" + (names.size() + 1) + " classes)"), null);
        }
        dev.frcnn.model.TorchvisionVariant variant = ModelFamily.of(cfg).variant();
        double eps = variant.batchNormEps(sd.keySet());
        GeneralizedRCNNTransform transform = new GeneralizedRCNNTransform(cfg.minSize(), cfg.maxSize(),
                GeneralizedRCNNTransform.IMAGENET_MEAN, GeneralizedRCNNTransform.IMAGENET_STD,
                GeneralizedRCNNTransform.DEFAULT_SIZE_DIVISIBLE);
        TorchvisionFasterRCNN model = variant.build(transform, names, eps, ResNetFPNBackbone.DEFAULT_TRAINABLE_LAYERS,
                cfg.precisionMode());
        try {
            model.loadStateDict(sd, weights.toString());
        } catch (WeightsMismatchException e) {
            model.close();
            throw new WeightsDoNotFitException(weights, "weights do not fit the " + cfg.backbone() + " model with "
                    + names.size() + " classes: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        model.to(device, false);
        model.train(false);
        return new LoadedModel(model, cfg, names, cfg.preprocessing(), weights, plan.categories());
    }

    /** The key whose rows are the box predictor's classes, background included. */
    private static final String CLS_SCORE_WEIGHT = "roi_heads.box_predictor.cls_score.weight";

    /**
     * Parses the command line's {@code --device} and opens the device ({@link ComputeDevice}).
     *
     * @param name {@code cpu} or {@code cuda}
     * @return the device
     * @throws UserInputException for another name, or {@code cuda} where no CUDA device is available; the message
     *     names the option ({@code --device must be one of cpu, cuda, got 'tpu'}, {@code --device cuda: no CUDA device
     *     is available ...})
     */
    public static Device device(String name) {
        // ComputeDevice's messages start with "device": on the command line, that is the option --device
        ComputeDevice d;
        try {
            d = ComputeDevice.fromName(name);
        } catch (IllegalArgumentException e) { // the parser's check of its argument; here the argument is the user's
            throw new UserInputException("--" + e.getMessage(), e);
        }
        try {
            return d.open();
        } catch (UserInputException e) {
            throw new UserInputException("--" + e.getMessage(), e);
        }
    }
}
