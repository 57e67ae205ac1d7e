package dev.frcnn.train;

import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.dist.DistributedGroup;
import dev.frcnn.dist.Rendezvous;
import dev.frcnn.model.FasterRCNN;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static org.bytedeco.pytorch.global.torch.ones_like;

/**
 * A measurement, not a test: one rank of a job (torchrun's environment) that builds the detector of a config (random
 * weights), gives every trainable parameter a gradient of ones and times {@link GradientAllReduce#averageGradients()}
 * (buckets, copies in and out, c10d's all-reduce) after a warm-up, each call after a barrier. Rank 0 prints the
 * values, buckets, and the min and median in ms. Arguments: config JSON, repeats. Command in
 * {@code docs/distributed.md}.
 */
public final class AllReduceTimeProbe {
    private AllReduceTimeProbe() {}

    public static void main(String[] args) {
        Config cfg = Config.load(Path.of(args[0]));
        int repeats = Integer.parseInt(args[1]);
        try (DistributedGroup g = DistributedGroup.join(Rendezvous.fromEnvironment(), Duration.ofMinutes(5));
             FasterRCNN model = Detectors.create(cfg, cfg.classNamesOrVoc())) {
            try (PointerScope s = new PointerScope()) {
                StringTensorDict p = model.named_parameters(true);
                for (long i = 0; i < p.size(); i++) {
                    Tensor t = p.get(i).value();
                    if (t.requires_grad()) t.mutable_grad().put(ones_like(t.detach()));
                }
            }
            GradientAllReduce reduce = new GradientAllReduce(g, model, GradientAllReduce.BUCKET_BYTES);
            reduce.averageGradients(); // warm-up
            double[] ms = new double[repeats];
            for (int i = 0; i < repeats; i++) {
                g.barrier();
                long t0 = System.nanoTime();
                reduce.averageGradients();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            if (g.rank() == 0) {
                System.out.printf("%s: %d trainable values (%.0f MB) in %d buckets, %d processes: all-reduce min %.0f ms, "
                                + "median %.0f ms over %d%n", args[0], reduce.values(), reduce.values() * 4 / 1e6,
                        reduce.bucketCount(), g.worldSize(), ms[0], ms[repeats / 2], repeats);
            }
        }
        System.exit(0);
    }
}
