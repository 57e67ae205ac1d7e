package dev.frcnn.train;

import dev.frcnn.assembly.Detectors;
import dev.frcnn.assembly.ModelFamily;
import dev.frcnn.config.Config;
import dev.frcnn.config.ConfigException;
import dev.frcnn.data.SampleTransform;
import dev.frcnn.data.TorchvisionTrainTransform;
import dev.frcnn.data.Transform;
import dev.frcnn.model.DetectionModel;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.TorchvisionFasterRCNN;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.List;

/**
 * The one place the training loop asks a config's {@link ModelFamily} for its model, its {@link StepTrainer} and its
 * {@link SampleTransform}.
 *
 * <ul>
 *   <li>{@link ModelFamily#REFERENCE}: {@link Detectors#create}, {@link FasterRCNNTrainer} (the reference's losses,
 *       {@code rpn_sigma}, {@code roi_sigma}, {@code roi_n_sample}; SGD or {@code use_adam}; biases at 2x lr without
 *       weight decay), {@link Transform} (resize to {@code min_size}/{@code max_size}, normalise, flip).</li>
 *   <li>{@link ModelFamily#TORCHVISION_FPN}: {@link Detectors#createModel} ({@code fasterrcnn_resnet50_fpn} with
 *       {@code class_names.size() + 1} classes, FrozenBatchNorm2d eps 0.0, torchvision's 3 trainable backbone
 *       layers), {@link TorchvisionTrainer} (torchvision's losses and samplers; SGD momentum 0.9 with {@code lr} and
 *       {@code weight_decay} for every parameter), {@link TorchvisionTrainTransform} (to [0, 1], flip; the model
 *       resizes). The reference family's loss settings do not apply.</li>
 *   <li>{@link ModelFamily#TORCHVISION_FPN_V2}: refused ({@link #requireTrainable}).</li>
 * </ul>
 */
public final class StepTrainers {
    private StepTrainers() {}

    /**
     * Builds a randomly initialised model of the config's family on {@code device} and its trainer (gradient clipping
     * set from {@code clip_grad_norm}). Call {@code torch.manual_seed} first for a reproducible initialisation.
     *
     * @param cfg the run's config
     * @param classNames the foreground class names, in label order
     * @param sampler the one source of the trainer's random choices
     * @param device where the model trains
     * @return the trainer; {@link StepTrainer#model()} is the model
     * @throws ConfigException for {@code use_adam} with torchvision's family (its recipe is SGD)
     */
    static StepTrainer create(Config cfg, List<String> classNames, Sampler sampler, Device device) {
        requireTrainable(cfg);
        DetectionModel model = ModelFamily.of(cfg) == ModelFamily.REFERENCE ? Detectors.create(cfg, classNames)
                : Detectors.createModel(cfg, classNames);
        model.module().to(device, false);
        return forModel(model, cfg, sampler);
    }

    /**
     * Refuses a config whose model the loop cannot train: torchvision's {@code resnet50_fpn_v2}, whose norms train
     * as {@code nn.BatchNorm2d} with batch statistics, which this port does not have (its norms are eval-mode).
     *
     * @param cfg the run's config
     * @throws dev.frcnn.error.UserInputException for {@code resnet50_fpn_v2}, naming the backbone and what trains
     */
    public static void requireTrainable(Config cfg) {
        if (ModelFamily.of(cfg) == ModelFamily.TORCHVISION_FPN_V2) {
            throw new dev.frcnn.error.UserInputException("backbone " + cfg.backbone() + " is torchvision's Faster "
                    + "R-CNN v2, whose BatchNorm2d layers train with batch statistics, which this port does not "
                    + "have: it detects, evaluates and benchmarks inference; train resnet50_fpn instead "
                    + "(docs/torchvision.md)");
        }
    }

    /**
     * The trainer of an existing model (its family's; gradient clipping set from {@code clip_grad_norm}).
     *
     * @param model a reference-family {@link FasterRCNN} or a {@link TorchvisionFasterRCNN}, on its device
     * @param cfg the settings of the losses and the optimizer ({@code lr}, {@code weight_decay}, {@code use_adam},
     *     and for the reference family {@code rpn_sigma}, {@code roi_sigma}, {@code roi_n_sample})
     * @param sampler the one source of the trainer's random choices
     * @return the trainer
     * @throws ConfigException for {@code use_adam} with torchvision's family (its recipe is SGD)
     * @throws IllegalArgumentException for another kind of model
     */
    public static StepTrainer forModel(DetectionModel model, Config cfg, Sampler sampler) {
        StepTrainer t;
        if (model instanceof FasterRCNN frcnn) {
            t = new FasterRCNNTrainer(frcnn, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(), cfg.weightDecay(),
                    cfg.useAdam(), sampler, cfg.roiNSample());
        } else if (model instanceof TorchvisionFasterRCNN tv) {
            requireTrainable(cfg);
            if (cfg.useAdam()) {
                throw new ConfigException("use_adam: backbone " + cfg.backbone() + " trains with torchvision's "
                        + "recipe, SGD with momentum 0.9 (docs/torchvision.md); set use_adam to false");
            }
            t = new TorchvisionTrainer(tv, TorchvisionLosses.fasterRcnnDefaults(sampler), cfg.lr(),
                    TorchvisionTrainer.TUTORIAL_MOMENTUM, cfg.weightDecay());
        } else {
            throw new IllegalArgumentException("no trainer for a " + model.getClass().getSimpleName());
        }
        t.setClipGradNorm(cfg.clipGradNorm());
        return t;
    }

    /**
     * The family's train transform.
     *
     * @param cfg the run's config ({@code backbone}, and {@code min_size}, {@code max_size}, the normalisation for the
     *     reference family)
     * @return {@link Transform} or {@link TorchvisionTrainTransform}
     */
    public static SampleTransform transform(Config cfg) {
        return ModelFamily.of(cfg).isTorchvision() ? new TorchvisionTrainTransform() : new Transform(cfg.preprocessing());
    }

    /**
     * The parameters of {@code model} with {@code requires_grad}, in {@code named_parameters()} order: what a step's
     * gradient clipping covers (both families' trainers).
     *
     * @param model the model being trained
     * @return its trainable parameters (the same tensors, not copies)
     */
    static TensorVector trainableParameters(org.bytedeco.pytorch.Module model) {
        StringTensorDict np = model.named_parameters(true);
        TensorVector out = new TensorVector();
        for (long i = 0; i < np.size(); i++) {
            Tensor p = np.get(i).value();
            if (p.requires_grad()) out.push_back(p);
        }
        return out;
    }
}
