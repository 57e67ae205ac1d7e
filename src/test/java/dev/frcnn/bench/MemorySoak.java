package dev.frcnn.bench;

import dev.frcnn.assembly.Detectors;
import dev.frcnn.assembly.ModelFamily;
import dev.frcnn.data.Transform;
import dev.frcnn.model.DetectionModel;
import dev.frcnn.train.StepTrainer;
import dev.frcnn.train.StepTrainers;
import dev.frcnn.config.Config;
import dev.frcnn.data.ImageReader;
import dev.frcnn.data.Normalization;
import dev.frcnn.data.Preprocess;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.ImageSize;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.train.FasterRCNNTrainer;
import dev.frcnn.train.Sampler;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * The child process of {@link MemoryFlatnessTest}: calls {@code predict} or {@code trainStep} in a loop with NO outer
 * {@link org.bytedeco.javacpp.PointerScope}, in a JVM whose garbage collector never collects (Epsilon,
 * {@link MemoryFlatnessTest#SOAK_JVM}), so that a tensor the call does not free itself is never freed by JavaCPP's
 * collector-driven deallocation either, and stays counted by {@code Pointer.totalCount()}. After each call it prints
 * {@code call <i> <Pointer.totalCount()> <Pointer.totalBytes()> <Pointer.physicalBytes()> <Java heap used>}.
 *
 * <p>Arguments: {@code predict|train|family-detect|family-train}, image file, then {@code --set}-style config
 * entries ({@code family-*}: any model family, {@link #soakFamily}).
 */
public final class MemorySoak {
    private MemorySoak() {}

    public static void main(String[] args) {
        String mode = args[0];
        Path image = Path.of(args[1]);
        int calls = Integer.parseInt(args[2]);
        Config cfg = Config.defaults().withOverrides(List.of(args).subList(3, args.length));
        org.bytedeco.pytorch.global.torch.set_num_threads(1);
        org.bytedeco.pytorch.global.torch.manual_seed(0);
        if (mode.startsWith("family-")) {
            soakFamily(mode.substring("family-".length()), cfg, image, calls);
            return;
        }
        FasterRCNN model = Detectors.create(cfg, FasterRCNN.VOC_BBOX_LABEL_NAMES);
        Normalization norm = cfg.caffePretrain() ? Normalization.CAFFE : Normalization.TORCHVISION;
        Tensor img = ImageReader.readRgbChw(image);
        ImageSize size = new ImageSize((int) img.size(1), (int) img.size(2));
        Tensor x = Preprocess.preprocess(img, cfg.minSize(), cfg.maxSize(), norm);
        if (mode.equals("predict")) {
            for (int i = 0; i < calls; i++) {
                model.predict(List.of(x), List.of(size), Thresholds.VISUALIZE);
                report(i);
            }
        } else {
            model.train(true);
            FasterRCNNTrainer trainer = new FasterRCNNTrainer(model, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(),
                    cfg.weightDecay(), cfg.useAdam(), Sampler.seeded(cfg.seed()));
            double scale = (double) x.size(1) / img.size(1);
            float h = x.size(1), w = x.size(2);
            Tensor xb = x.unsqueeze(0);
            Tensor bbox = Tensors.fromFloats(new float[]{
                    0.10f * h, 0.10f * w, 0.60f * h, 0.45f * w,
                    0.30f * h, 0.50f * w, 0.90f * h, 0.95f * w}, 1, 2, 4);
            Tensor label = Tensors.fromLongs(new long[]{11, 14}, 1, 2);
            for (int i = 0; i < calls; i++) {
                FasterRCNNTrainer.Losses l = trainer.trainStep(xb, bbox, label, scale);
                // The returned losses belong to the caller.
                l.rpnLocLoss().close();
                l.rpnClsLoss().close();
                l.roiLocLoss().close();
                l.roiClsLoss().close();
                l.totalLoss().close();
                report(i);
            }
        }
    }

    /**
     * {@code family-detect}: {@link DetectionModel#detect} of the config's family (torchvision's included), the path of
     * {@code bin/frcnn detect}, the API and the evaluator; {@code family-train}: {@link StepTrainer#trainBatch} of the
     * family's trainer on the family's training sample (the path of {@code bin/frcnn train}).
     */
    private static void soakFamily(String what, Config cfg, Path image, int calls) {
        DetectionModel model = Detectors.createModel(cfg, ModelFamily.of(cfg).classNames(cfg));
        Tensor img = ImageReader.readRgbChw(image);
        if (what.equals("detect")) {
            model.module().train(false);
            for (int i = 0; i < calls; i++) {
                model.detect(img, cfg.preprocessing(), Thresholds.EVALUATE);
                report(i);
            }
            return;
        }
        model.module().train(true);
        StepTrainer trainer = StepTrainers.forModel(model, cfg, Sampler.seeded(cfg.seed()));
        float h = img.size(1), w = img.size(2);
        Tensor bbox = Tensors.fromFloats(new float[]{
                0.10f * h, 0.10f * w, 0.60f * h, 0.45f * w,
                0.30f * h, 0.50f * w, 0.90f * h, 0.95f * w}, 2, 4);
        int nFg = model.classNames().size();
        Tensor label = Tensors.fromLongs(new long[]{11 % nFg, 14 % nFg}, 2);
        Transform.Sample sample = StepTrainers.transform(cfg).apply(img, bbox, label, false);
        for (int i = 0; i < calls; i++) {
            trainer.trainBatch(List.of(sample.img()), List.of(sample.bbox()), List.of(sample.label()),
                    new double[]{sample.scale()}, k -> {});
            report(i);
        }
    }

    private static void report(int i) {
        Runtime rt = Runtime.getRuntime();
        System.out.println("call " + i + " " + Pointer.totalCount() + " " + Pointer.totalBytes() + " "
                + Pointer.physicalBytes() + " " + (rt.totalMemory() - rt.freeMemory()));
    }
}
