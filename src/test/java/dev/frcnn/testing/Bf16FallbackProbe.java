package dev.frcnn.testing;

import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.tensor.Autocast;
import dev.frcnn.tensor.NativeLibraries;
import dev.frcnn.tensor.Precision;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.train.FasterRCNNTrainer;
import dev.frcnn.train.Sampler;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.Arrays;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.rand;

/**
 * Runs the demo's tiny detector with {@code precision} fp32 and then bf16 from the same seed: one forward pass
 * without gradients and one training step each, and prints {@code effective=<precision bf16 runs as>},
 * {@code forward identical=<bool>} and {@code losses identical=<bool>} (bit for bit). {@code Bf16FallbackTest} runs
 * it in a child JVM whose oneDNN is capped below bfloat16, so the fallback is exercised on every machine.
 */
public final class Bf16FallbackProbe {
    private Bf16FallbackProbe() {}

    public static void main(String[] args) {
        NativeLibraries.ensureExtracted();
        System.out.println("effective=" + Autocast.effective(Precision.BF16, new Device("cpu")).configName());
        float[][] scores = new float[2][];
        double[][] losses = new double[2][];
        String[] precisions = {"fp32", "bf16"};
        for (int i = 0; i < 2; i++) {
            Config cfg = TinyModels.config(TinyModels.Size.MEDIUM, "precision=" + precisions[i]);
            try (PointerScope s = new PointerScope()) {
                manual_seed(0);
                Tensor x = rand(1, 3, 128, 160);
                FasterRCNN m = Detectors.create(cfg, FasterRCNN.VOC_BBOX_LABEL_NAMES);
                m.eval();
                try (NoGradGuard g = new NoGradGuard()) {
                    scores[i] = Tensors.toFloatArray(m.forward(x, 1.0).roiScores());
                }
                m.train(true);
                FasterRCNNTrainer trainer = new FasterRCNNTrainer(m, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(),
                        cfg.weightDecay(), false, Sampler.firstN(), cfg.roiNSample());
                Tensor bbox = Tensors.fromFloats(new float[]{10, 12, 80, 90, 40, 60, 120, 150}, 1, 2, 4);
                Tensor label = Tensors.fromLongs(new long[]{3, 7}, 1, 2);
                FasterRCNNTrainer.Losses l = trainer.trainStep(x, bbox, label, 1.0);
                losses[i] = new double[]{l.rpnLocLoss().item_double(), l.rpnClsLoss().item_double(),
                        l.roiLocLoss().item_double(), l.roiClsLoss().item_double()};
                m.close();
            }
        }
        System.out.println("forward identical=" + Arrays.equals(scores[0], scores[1]));
        System.out.println("losses identical=" + Arrays.equals(losses[0], losses[1]));
        System.out.flush();
    }
}
