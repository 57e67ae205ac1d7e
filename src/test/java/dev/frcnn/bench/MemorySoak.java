package dev.frcnn.bench;

import dev.frcnn.assembly.Detectors;
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
 * {@link org.bytedeco.javacpp.PointerScope}, in a JVM started with {@code -Dorg.bytedeco.javacpp.nopointergc=true},
 * so that a tensor the call does not free itself is never freed by the garbage collector either. After each call it
 * prints {@code call <i> <Pointer.totalCount()> <Pointer.totalBytes()> <Pointer.physicalBytes()>}.
 *
 * <p>Arguments: {@code predict|train}, image file, then {@code --set}-style config entries.
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

    private static void report(int i) {
        System.out.println("call " + i + " " + Pointer.totalCount() + " " + Pointer.totalBytes() + " " + Pointer.physicalBytes());
    }
}
