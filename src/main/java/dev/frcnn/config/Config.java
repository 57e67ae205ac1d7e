package dev.frcnn.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.frcnn.data.ExifOrientationMode;
import dev.frcnn.data.Normalization;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.TruncatedImages;
import dev.frcnn.data.VocDataset;
import dev.frcnn.model.TorchvisionVariant;
import dev.frcnn.model.backbone.Backbones;
import dev.frcnn.model.backbone.ResNetC4Backbone;
import dev.frcnn.tensor.Precision;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Training/evaluation configuration with the reference's option names ({@code utils/config.py: Config}),
 * immutable, validated when built. Unknown keys are an error, as in the reference's {@code opt._parse}.
 *
 * <p>Keys kept from the reference: {@code min_size, max_size, num_workers, test_num_workers, rpn_sigma,
 * roi_sigma, weight_decay, lr_decay, lr, epoch, use_adam, use_drop, test_num, load_path, caffe_pretrain,
 * pretrained_model, plot_every}. Ours: {@code seed} (sampling and flips), {@code lr_decay_epoch} (the
 * reference hard-codes 9), {@code backbone} (an entry of {@link Backbones}: {@code vgg16}, {@code tiny}: the
 * demo's small backbone, {@code resnet50}, {@code resnet101}, {@code squeezenet1_1}; or {@code resnet50_fpn}, torchvision's Faster R-CNN
 * ResNet-50 FPN, or {@code resnet50_fpn_v2}, its v2, inference only, {@code docs/torchvision.md}), {@code representation_size}
 * (width of the RoI head's two fully connected layers, torchvision's name; 0 = the backbone's own: 4096 for
 * VGG16's fc6/fc7, 2048 for ResNet's layer4, 1024 for SqueezeNet's new layers), {@code roi_op} ({@code roi_pool}, {@code roi_align}),
 * {@code roi_align_sampling_ratio}, {@code roi_align_aligned} (see below), {@code threads} (LibTorch intra-op threads, 0 = LibTorch's default),
 * {@code class_names} (the foreground class names; omitted = the 20 VOC classes, the reference's; an empty list
 * or null given in a file or {@code --set} is an error, not VOC, see {@link #withOverrides}), {@code ratios} and {@code anchor_scales} (the reference's
 * constructor arguments of FasterRCNNVGG16, defaults (0.5, 1, 2) and (8, 16, 32)), {@code checkpoint_every}
 * (training iterations between checkpoints of the running state, so a killed run loses at most that much),
 * {@code use_07_metric} (VOC07 11-point AP, as the reference's training script; false: area under the curve),
 * {@code warmup_iters} and {@code warmup_factor} (detectron2's {@code WarmupLinear}: for global step
 * {@code i < warmup_iters} the learning rate is multiplied by {@code warmup_factor * (1 - a) + a} with
 * {@code a = i / warmup_iters}; default 0 = off, factor 0.001), {@code clip_grad_norm} (rescale the gradients
 * so that their global L2 norm is at most this, as {@code torch.nn.utils.clip_grad_norm_}; 0 = off, the default),
 * {@code zero_init_residual} (ResNet only: the last conv of every residual branch starts at zero, for training
 * from scratch, {@code docs/resnet.md}; default false), {@code max_image_pixels} (images with more pixels are
 * refused from their header before decoding; default {@value #DEFAULT_MAX_IMAGE_PIXELS}, PIL's
 * decompression-bomb error threshold), {@code roi_size} (height and width of the pooled RoI features, the
 * reference's {@code VGG16RoIHead(roi_size=7)}, detectron2's {@code POOLER_RESOLUTION}; 0 = the backbone's own:
 * 7, or 14 for the ResNets; only the ResNets, whose head is convolutional, accept another value), {@code roi_n_sample}
 * (RoIs sampled per image for the head's losses, the reference's {@code ProposalTargetCreator(n_sample=128)},
 * torchvision's {@code box_batch_size_per_image}; default {@value #DEFAULT_ROI_N_SAMPLE}), {@code norm} (ResNets:
 * {@code frozen_bn}, the default, for ImageNet weights, or {@code group_norm} for training from scratch;
 * detectron2's {@code RESNETS.NORM}) and {@code freeze_at} (ResNets: detectron2's {@code FREEZE_AT}, 0 = train
 * every layer, 1 = freeze the stem, k = also layer1..layer(k-1); default 2; {@code docs/resnet.md}) and
 * {@code truncated_images} ({@code load}, the default, {@code skip} or {@code error}: what training, evaluation and
 * detection do with a JPEG without its end marker or a PNG without {@code IEND}, {@link TruncatedImages};
 * {@code docs/preprocessing.md}) and {@code exif_orientation} ({@code apply}, the default, or {@code ignore}: whether
 * every image read applies its EXIF orientation tag, {@link ExifOrientationMode}; configs and checkpoints without the
 * key read as {@code apply}) and {@code eval_metric} ({@code voc07}, {@code voc} or {@code coco}, {@link EvalMetric}: the
 * metric of the training loop's evaluation after each epoch, which also chooses {@code best.ckpt}, and the default
 * of {@code bin/frcnn eval}; not given (null, the default): {@code voc07}, or {@code voc} with
 * {@code use_07_metric: false}, as before the key existed; {@code docs/evaluation.md}) and {@code batch_size}
 * (training images per step per process, {@code >= 1}; default 1, the reference's recipe; images of a batch are padded bottom/right to a common size, each image's losses are the
 * reference's and the step's loss is their mean; {@code lr} is the batch's as written: {@code docs/training.md},
 * "Batches"; configs and checkpoints without the key read as 1).
 * The visdom keys ({@code env}, {@code port}) are not supported.
 *
 * <p>{@code num_workers}, as in PyTorch's {@code DataLoader}: 0 reads each training image in the training thread,
 * between steps; 1 or more read them on that many loader threads (at most 2), up to 4 images ahead. Both give the
 * same samples in the same order, so the same training. {@code test_num_workers} is accepted and unused:
 * evaluation reads its images in order, in the evaluating thread.
 *
 * <p>Backbones and RoI ops: {@code backbone} is {@code vgg16} (the reference), {@code tiny} (the demo),
 * {@code resnet50} or {@code resnet101} (torchvision ResNet in the C4 layout, {@code docs/resnet.md}; these need
 * torchvision normalisation, so {@code caffe_pretrain} must be false, and they have no dropout, so
 * {@code use_drop} must be false) or {@code squeezenet1_1} ({@code docs/real-data.md}); what each allows is its
 * {@link Backbones} entry's {@code check}. {@code roi_op} is {@code roi_pool}
 * (torchvision RoIPool, the reference's) or {@code roi_align} (torchvision {@code roi_align}), configured by
 * {@code roi_align_sampling_ratio} (samples per bin and axis, {@code <= 0} = adaptive {@code ceil(roi/pooled)},
 * at most {@value #MAX_SAMPLING_RATIO}; default 0) and {@code roi_align_aligned} (the half-pixel offset of
 * torchvision's {@code aligned=True}; default false). Both RoIAlign keys are ignored with {@code roi_pool}.
 *
 * <p>{@code precision}: {@code fp32} (default; the reference's numbers) or {@code bf16} (bfloat16 mixed precision
 * for convolutions and linear layers, {@link Precision#BF16}; on a CPU without native bfloat16 it runs fp32 and
 * says so once). Checkpoints without the key load as {@code fp32}.
 */
public record Config(
        @JsonProperty("min_size") int minSize,
        @JsonProperty("max_size") int maxSize,
        @JsonProperty("num_workers") int numWorkers,
        @JsonProperty("test_num_workers") int testNumWorkers,
        @JsonProperty("rpn_sigma") double rpnSigma,
        @JsonProperty("roi_sigma") double roiSigma,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("lr_decay") double lrDecay,
        @JsonProperty("lr_decay_epoch") int lrDecayEpoch,
        @JsonProperty("lr") double lr,
        @JsonProperty("epoch") int epoch,
        @JsonProperty("use_adam") boolean useAdam,
        @JsonProperty("use_drop") boolean useDrop,
        @JsonProperty("test_num") int testNum,
        @JsonProperty("load_path") String loadPath,
        @JsonProperty("caffe_pretrain") boolean caffePretrain,
        @JsonProperty("pretrained_model") String pretrainedModel,
        @JsonProperty("plot_every") int plotEvery,
        @JsonProperty("seed") long seed,
        @JsonProperty("backbone") String backbone,
        @JsonProperty("roi_op") String roiOp,
        @JsonProperty("threads") int threads,
        @JsonProperty("class_names") List<String> classNames,
        @JsonProperty("ratios") List<Double> ratios,
        @JsonProperty("anchor_scales") List<Double> anchorScales,
        @JsonProperty("checkpoint_every") int checkpointEvery,
        @JsonProperty("use_07_metric") boolean use07Metric,
        @JsonProperty("roi_align_sampling_ratio") int roiAlignSamplingRatio,
        @JsonProperty("roi_align_aligned") boolean roiAlignAligned,
        @JsonProperty("representation_size") int representationSize,
        @JsonProperty("warmup_iters") int warmupIters,
        @JsonProperty("warmup_factor") double warmupFactor,
        @JsonProperty("clip_grad_norm") double clipGradNorm,
        @JsonProperty("zero_init_residual") boolean zeroInitResidual,
        @JsonProperty("max_image_pixels") long maxImagePixels,
        @JsonProperty("precision") String precision,
        @JsonProperty("roi_size") int roiSize,
        @JsonProperty("roi_n_sample") int roiNSample,
        @JsonProperty("norm") String norm,
        @JsonProperty("freeze_at") int freezeAt,
        @JsonProperty("truncated_images") String truncatedImages,
        @JsonProperty("exif_orientation") String exifOrientation,
        @JsonProperty("eval_metric") String evalMetric,
        @JsonProperty("batch_size") int batchSize) {

    /** The RoI ops {@code roi_op} accepts. */
    public static final List<String> ROI_OPS = List.of("roi_pool", "roi_align");
    /**
     * Default {@code max_image_pixels}: PIL's decompression-bomb error threshold ({@code 2 * Image.MAX_IMAGE_PIXELS}
     * = 2 * 89,478,485), i.e. an image of at most about 13,400 x 13,400 pixels.
     */
    public static final long DEFAULT_MAX_IMAGE_PIXELS = dev.frcnn.data.ImageReader.DEFAULT_MAX_PIXELS;
    /** Default {@code roi_n_sample}: the reference's {@code ProposalTargetCreator(n_sample=128)}. */
    public static final int DEFAULT_ROI_N_SAMPLE = 128;
    /** Largest accepted {@code roi_align_sampling_ratio}. */
    public static final int MAX_SAMPLING_RATIO = 64;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT); // epoch=1.5 is an error, not 1

    /**
     * The reference's defaults ({@code utils/config.py}), VGG16 with RoIPool, VOC classes; RoIAlign settings (used
     * only with {@code roi_op = roi_align}) as torchvision's {@code roi_align} defaults: adaptive sampling, not
     * aligned.
     */
    public static Config defaults() {
        return new Config(600, 1000, 8, 8, 3.0, 1.0, 0.0005, 0.1, 9, 1e-3, 14, false, false, 10000, null,
                false, "vgg16", 40, 0, "vgg16", "roi_pool", 0, List.of(), List.of(0.5, 1.0, 2.0),
                List.of(8.0, 16.0, 32.0), 500, true, 0, false, 0, 0, 0.001, 0.0, false, DEFAULT_MAX_IMAGE_PIXELS,
                "fp32", 0, DEFAULT_ROI_N_SAMPLE, ResNetC4Backbone.Norm.FROZEN_BN.configName(),
                ResNetC4Backbone.DEFAULT_FREEZE_AT, TruncatedImages.LOAD.configName(),
                ExifOrientationMode.APPLY.configName(), null, 1);
    }

    public Config {
        classNames = classNames == null ? List.of() : List.copyOf(classNames);
        ratios = ratios == null ? List.of(0.5, 1.0, 2.0) : List.copyOf(ratios);
        anchorScales = anchorScales == null ? List.of(8.0, 16.0, 32.0) : List.copyOf(anchorScales);
        precision = precision == null ? "fp32" : precision;
        norm = norm == null ? ResNetC4Backbone.Norm.FROZEN_BN.configName() : norm;
        truncatedImages = truncatedImages == null ? TruncatedImages.LOAD.configName() : truncatedImages;
        exifOrientation = exifOrientation == null ? ExifOrientationMode.APPLY.configName() : exifOrientation;
        List<String> errors = new ArrayList<>();
        check(errors, () -> new Preprocessing(minSize, maxSize, Normalization.of(caffePretrain)));
        if (numWorkers < 0 || testNumWorkers < 0) errors.add("num_workers/test_num_workers must be >= 0");
        if (!(rpnSigma > 0) || !(roiSigma > 0)) errors.add("rpn_sigma and roi_sigma must be > 0");
        if (!(weightDecay >= 0)) errors.add("weight_decay must be >= 0, got " + weightDecay);
        if (!(lrDecay > 0 && lrDecay <= 1)) errors.add("lr_decay must be in (0, 1], got " + lrDecay);
        if (lrDecayEpoch < 0) errors.add("lr_decay_epoch must be >= 0, got " + lrDecayEpoch);
        if (!(lr > 0)) errors.add("lr must be > 0, got " + lr);
        if (epoch < 1) errors.add("epoch must be >= 1, got " + epoch);
        if (testNum < 1) errors.add("test_num must be >= 1, got " + testNum);
        if (plotEvery < 1) errors.add("plot_every must be >= 1, got " + plotEvery);
        if (threads < 0) errors.add("threads must be >= 0, got " + threads);
        if (TorchvisionVariant.ofBackbone(backbone).isPresent()) {
            // torchvision's model: its own transform, RPN and heads; the reference family's settings do not apply
        } else if (!Backbones.names().contains(backbone)) {
            errors.add("backbone must be one of " + String.join(", ", Backbones.names()) + ", "
                    + String.join(", ", TorchvisionVariant.backboneNames()) + ", got " + backbone);
        } else {
            errors.addAll(Backbones.get(backbone).check(caffePretrain, useDrop, representationSize, roiSize));
        }
        if (ratios.isEmpty() || ratios.stream().anyMatch(r -> !(r > 0))) errors.add("ratios must be > 0, got " + ratios);
        if (anchorScales.isEmpty() || anchorScales.stream().anyMatch(r -> !(r > 0))) {
            errors.add("anchor_scales must be > 0, got " + anchorScales);
        }
        if (checkpointEvery < 1) errors.add("checkpoint_every must be >= 1, got " + checkpointEvery);
        if (!ROI_OPS.contains(roiOp)) errors.add("roi_op must be one of " + String.join(", ", ROI_OPS) + ", got " + roiOp);
        if (roiAlignSamplingRatio > MAX_SAMPLING_RATIO) {
            errors.add("roi_align_sampling_ratio must be <= " + MAX_SAMPLING_RATIO + " (<= 0: adaptive), got "
                    + roiAlignSamplingRatio);
        }
        if (warmupIters < 0) errors.add("warmup_iters must be >= 0 (0 = no warm-up), got " + warmupIters);
        if (!(warmupFactor > 0 && warmupFactor <= 1)) errors.add("warmup_factor must be in (0, 1], got " + warmupFactor);
        if (!(clipGradNorm >= 0) || Double.isInfinite(clipGradNorm)) {
            errors.add("clip_grad_norm must be finite and >= 0 (0 = no clipping), got " + clipGradNorm);
        }
        boolean resnet = backbone != null && backbone.startsWith("resnet");
        if (zeroInitResidual && !resnet) {
            errors.add("zero_init_residual applies to the ResNet backbones only, got backbone " + backbone);
        }
        String normName = norm, precisionName = precision, truncatedName = truncatedImages, exifName = exifOrientation;
        if (check(errors, () -> ResNetC4Backbone.Norm.fromName(normName))
                && ResNetC4Backbone.Norm.fromName(norm) != ResNetC4Backbone.Norm.FROZEN_BN && !resnet) {
            errors.add("norm applies to the ResNet backbones only, got backbone " + backbone);
        }
        if (freezeAt < 0 || freezeAt > ResNetC4Backbone.MAX_FREEZE_AT) {
            errors.add("freeze_at must be in [0, " + ResNetC4Backbone.MAX_FREEZE_AT + "], got " + freezeAt);
        } else if (freezeAt != ResNetC4Backbone.DEFAULT_FREEZE_AT && !resnet) {
            errors.add("freeze_at applies to the ResNet backbones only, got backbone " + backbone);
        }
        if (roiNSample < 1) errors.add("roi_n_sample must be >= 1, got " + roiNSample);
        if (batchSize < 1) {
            errors.add("batch_size must be >= 1 (images per training step per process; 1 = the reference), got "
                    + batchSize);
        }
        if (maxImagePixels < 1) errors.add("max_image_pixels must be >= 1, got " + maxImagePixels);
        check(errors, () -> Precision.fromName(precisionName));
        check(errors, () -> TruncatedImages.fromName(truncatedName));
        check(errors, () -> ExifOrientationMode.fromName(exifName));
        if (evalMetric != null) {
            String metricName = evalMetric;
            check(errors, () -> EvalMetric.fromName(metricName));
        }
        if (!errors.isEmpty()) throw new ConfigException(String.join("; ", errors));
    }

    /**
     * Runs the validation of a setting's own type (its constructor or {@code fromName}), collecting its message.
     *
     * @return whether the setting is valid
     */
    private static boolean check(List<String> errors, Runnable typedSetting) {
        try {
            typedSetting.run();
            return true;
        } catch (IllegalArgumentException e) {
            errors.add(e.getMessage());
            return false;
        }
    }

    /** Reads a JSON config; keys not given keep {@link #defaults()}. */
    public static Config load(Path file) {
        return defaults().withFile(file);
    }

    /**
     * A config from a JSON object (e.g. the one stored in a checkpoint); keys not given keep {@link #defaults()}.
     *
     * @throws ConfigException for unknown keys or bad values
     */
    public static Config fromJson(JsonNode node) {
        if (node == null || !node.isObject()) throw new ConfigException("a config must be a JSON object");
        return defaults().merge((ObjectNode) node);
    }

    /**
     * Applies {@code key=value} overrides (as {@code --set lr=0.001}); values are parsed as JSON, falling back
     * to a string. The user's keys are checked as in {@link #withFile}: {@code class_names} must list at least one
     * name (omit it for the 20 VOC classes).
     *
     * @throws ConfigException for an unknown key, a malformed entry, a value of the wrong type (naming the key, the
     *     value and the expected type), an empty {@code class_names}, or a value out of range
     */
    public Config withOverrides(List<String> sets) {
        ObjectNode o = JSON.createObjectNode();
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) throw new ConfigException("--set expects key=value, got '" + s + "'");
            String key = s.substring(0, eq).trim(), value = s.substring(eq + 1).trim();
            JsonNode v;
            try {
                v = JSON.readTree(value);
            } catch (IOException e) {
                v = null;
            }
            o.set(key, v == null || v.isMissingNode() ? JSON.getNodeFactory().textNode(value) : v);
        }
        checkUserKeys(o);
        return merge(o);
    }

    /**
     * Rules for keys a user writes (a config file, {@code --set}) that a stored config (a checkpoint's, where an
     * empty {@code class_names} means VOC) does not follow: an empty or null {@code class_names} would silently
     * become the 20 VOC classes, so it is refused.
     */
    private static void checkUserKeys(ObjectNode o) {
        JsonNode names = o.get("class_names");
        if (names != null && (names.isNull() || (names.isArray() && names.isEmpty()))) {
            throw new ConfigException("class_names is empty: omit the key for VOC's 20 classes, or list the class "
                    + "names, e.g. class_names=[\"raccoon\"]");
        }
    }

    /**
     * This config with another {@code min_size} (validated with the rest, by {@link Preprocessing}).
     *
     * @throws ConfigException if the result is invalid
     */
    public Config withMinSize(int minSize) {
        return withValue("min_size", JSON.getNodeFactory().numberNode(minSize));
    }

    /**
     * This config with another {@code max_size} (validated with the rest, by {@link Preprocessing}).
     *
     * @throws ConfigException if the result is invalid
     */
    public Config withMaxSize(int maxSize) {
        return withValue("max_size", JSON.getNodeFactory().numberNode(maxSize));
    }

    /**
     * This config with another {@code max_image_pixels}.
     *
     * @throws ConfigException if it is below 1
     */
    public Config withMaxImagePixels(long maxImagePixels) {
        return withValue("max_image_pixels", JSON.getNodeFactory().numberNode(maxImagePixels));
    }

    /** This config with another {@code precision}. */
    public Config withPrecision(Precision precision) {
        return withValue("precision", JSON.getNodeFactory().textNode(precision.configName()));
    }

    /** This config with another {@code exif_orientation}. */
    public Config withExifOrientation(ExifOrientationMode mode) {
        return withValue("exif_orientation", JSON.getNodeFactory().textNode(mode.configName()));
    }

    private Config withValue(String key, JsonNode value) {
        ObjectNode o = JSON.createObjectNode();
        o.set(key, value);
        return merge(o);
    }

    /**
     * This config with the keys of a JSON object file applied on top (e.g. the demo's per-backbone settings).
     *
     * @throws ConfigException if the file is not found ("config file not found: PATH") or cannot be read, is not
     *     a JSON object, or has unknown keys or bad values (as {@link #withOverrides}, prefixed with the file)
     */
    public Config withFile(Path file) {
        JsonNode node;
        try {
            node = JSON.readTree(Files.readString(file));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ConfigException("config file not found: " + file);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read config: " + e.getMessage());
        }
        if (node == null || !node.isObject()) throw new ConfigException(file + ": a config must be a JSON object");
        try {
            checkUserKeys((ObjectNode) node);
            return merge((ObjectNode) node);
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    private Config merge(ObjectNode overrides) {
        ObjectNode base = JSON.valueToTree(this);
        for (Iterator<Map.Entry<String, JsonNode>> it = overrides.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!base.has(e.getKey())) {
                throw new ConfigException("unknown config key '" + e.getKey() + "' (known: "
                        + String.join(", ", (Iterable<String>) base::fieldNames) + ")");
            }
            base.set(e.getKey(), e.getValue());
        }
        try {
            return JSON.treeToValue(base, Config.class);
        } catch (UnrecognizedPropertyException e) {
            throw new ConfigException("unknown config key '" + e.getPropertyName() + "'");
        } catch (JsonProcessingException e) {
            for (Throwable c = e; c != null; c = c.getCause()) {
                if (c instanceof ConfigException ce) throw ce;
            }
            if (e instanceof MismatchedInputException mi && !mi.getPath().isEmpty()
                    && mi.getPath().get(0).getFieldName() != null) {
                String key = mi.getPath().get(0).getFieldName();
                throw new ConfigException("bad config value for " + key + ": expected " + expected(mi.getPath().size() > 1, mi.getTargetType())
                        + ", got " + overrides.get(key));
            }
            throw new ConfigException("bad config value: " + e.getOriginalMessage());
        }
    }

    /**
     * The foreground class names this config trains or detects: {@code class_names}, or, when the key was not given
     * (an empty list in the record: the reference's setting, which has no such option; a user's explicit empty list
     * is refused by {@link #withOverrides} and {@link #withFile}), {@link VocDataset#VOC_BBOX_LABEL_NAMES}. The one
     * place of that rule.
     *
     * @return the class names, label i = name i
     */
    public List<String> classNamesOrVoc() {
        return classNames.isEmpty() ? VocDataset.VOC_BBOX_LABEL_NAMES : classNames;
    }

    /**
     * The preprocessing this config describes ({@code min_size}, {@code max_size}, {@code caffe_pretrain}).
     *
     * @return its preprocessing
     */
    public Preprocessing preprocessing() {
        return new Preprocessing(minSize, maxSize, Normalization.of(caffePretrain));
    }

    /**
     * {@link #evalMetric()} as an {@link EvalMetric}: the one given, or without one {@link EvalMetric#VOC07}
     * ({@link EvalMetric#VOC} if {@code use_07_metric} is false).
     */
    public EvalMetric evalMetricMode() {
        if (evalMetric != null) return EvalMetric.fromName(evalMetric);
        return use07Metric ? EvalMetric.VOC07 : EvalMetric.VOC;
    }

    /** {@link #truncatedImages()} as a {@link TruncatedImages}. */
    public TruncatedImages truncatedImagesMode() {
        return TruncatedImages.fromName(truncatedImages);
    }

    /** {@link #exifOrientation()} as an {@link ExifOrientationMode}. */
    public ExifOrientationMode exifOrientationMode() {
        return ExifOrientationMode.fromName(exifOrientation);
    }

    /** The JSON type a config key takes, for messages ({@code inList}: an element of a list-valued key). */
    private static String expected(boolean inList, Class<?> type) {
        String one;
        if (type == null) one = "a value of another type";
        else if (type == int.class || type == Integer.class || type == long.class || type == Long.class) one = "an integer";
        else if (type == double.class || type == Double.class) one = "a number";
        else if (type == boolean.class || type == Boolean.class) one = "true or false";
        else if (type == String.class) one = "a string";
        else if (List.class.isAssignableFrom(type)) one = "a JSON list, e.g. [\"a\", \"b\"] or [0.5, 1, 2]";
        else one = "a value of type " + type.getSimpleName();
        return inList ? "a list of elements that are each " + one : one;
    }

    /** {@link #precision()} as a {@link Precision}. */
    public Precision precisionMode() {
        return Precision.fromName(precision);
    }

    /** {@link #ratios()} as an array. */
    public double[] ratiosArray() {
        return ratios.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** {@link #anchorScales()} as an array. */
    public double[] anchorScalesArray() {
        return anchorScales.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** This config as pretty JSON with the reference's key names. */
    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
