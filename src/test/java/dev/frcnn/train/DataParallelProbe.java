package dev.frcnn.train;

import dev.frcnn.config.Config;
import dev.frcnn.dist.DistributedException;
import dev.frcnn.dist.DistributedGroup;
import dev.frcnn.dist.Rendezvous;
import dev.frcnn.tensor.IntraOpThreads;
import org.bytedeco.pytorch.Device;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * A test probe: one rank of a data-parallel {@link TrainLoop} as {@code bin/frcnn train} runs it (rendezvous from
 * torchrun's environment), which, at the end of training, writes its own model's parameters to a file
 * ({@link WeightsDump}): only rank 0 writes checkpoints, so the other ranks' weights are seen this way.
 *
 * <p>Arguments: config JSON, data directory, run directory, dump file, timeout in seconds, then {@code key=value}
 * settings. Exit codes: 0 done, 1 a {@link DistributedException} (its line on stderr).
 */
public final class DataParallelProbe {
    private DataParallelProbe() {}

    public static void main(String[] args) throws Exception {
        Config cfg = Config.load(Path.of(args[0])).withOverrides(List.of(Arrays.copyOfRange(args, 5, args.length)));
        IntraOpThreads.apply(cfg.threads());
        Rendezvous r = Rendezvous.fromEnvironment();
        Path dump = Path.of(args[3]);
        try (DistributedGroup g = DistributedGroup.join(r, Duration.ofSeconds(Long.parseLong(args[4])))) {
            TrainLoop.Result res = new TrainLoop(cfg, new TrainLoop.Options(Path.of(args[1]), Path.of(args[2]), false,
                    "train", "test", new Device("cpu"), System.err, false), g).run();
            WeightsDump.write(res.model().module(), dump);
        } catch (DistributedException e) {
            System.err.println("frcnn: " + e.getMessage());
            System.exit(1);
        }
        System.exit(0);
    }
}
