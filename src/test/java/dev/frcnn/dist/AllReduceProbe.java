package dev.frcnn.dist;

import dev.frcnn.error.UserInputException;
import dev.frcnn.tensor.NativeLibraries;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.StringJoiner;

/**
 * One rank of a data-parallel job, for {@link DistributedGroupTest}: reads the rendezvous from the environment as
 * {@code torchrun} sets it, joins with the timeout in seconds given as the first argument, and runs the mode given
 * as the second:
 * <ul>
 *   <li>{@code collectives}: all-reduces (sum) the float tensor {@code [r+1, 10(r+1), -0.5(r+1)]} and the long
 *       tensor {@code [r+1, 2^40]}, all-reduces (mean) {@code [r+1, 0]}, broadcasts {@code [100 + 10r + i]_i<4} from
 *       rank 0 and {@code [r+7]} from the last rank, prints {@code "rank R <name> <values>"} for each, then
 *       {@code "rank R done"};</li>
 *   <li>{@code peer-dies}: the last rank halts right after joining (exit 3); the others all-reduce, which fails;</li>
 *   <li>{@code bench N REPEATS}: all-reduces (sum) a float tensor of N elements REPEATS times after one warm-up and
 *       prints {@code "rank R allreduce N floats: ms m1 m2 ..."}.</li>
 * </ul>
 * It prints {@code "rank R joined after MS ms"} or {@code "rank R failed after MS ms"} (timed from before the join,
 * after LibTorch has loaded),
 * and on a {@link DistributedException} or a bad environment ({@link UserInputException}) prints the exception's
 * message alone on stderr and exits with 1.
 */
public final class AllReduceProbe {
    private AllReduceProbe() {}

    public static void main(String[] args) {
        NativeLibraries.ensureExtracted();
        // LibTorch loads before the clock starts, so that the times printed are the rendezvous's own
        Loader.load(torch.class);
        long start = System.nanoTime();
        int rank = -1;
        try {
            Rendezvous r = Rendezvous.fromEnvironment();
            rank = r.rank();
            Duration timeout = Duration.ofSeconds(Long.parseLong(args[0]));
            try (DistributedGroup group = DistributedGroup.join(r, timeout)) {
                System.out.println("rank " + rank + " joined after " + elapsedMs(start) + " ms");
                switch (args[1]) {
                    case "collectives" -> collectives(group);
                    case "peer-dies" -> peerDies(group);
                    case "bench" -> bench(group, Long.parseLong(args[2]), Integer.parseInt(args[3]));
                    default -> throw new IllegalArgumentException("unknown mode " + args[1]);
                }
                group.barrier();
            }
            System.out.println("rank " + rank + " done");
            System.exit(0);
        } catch (DistributedException | UserInputException e) {
            System.out.println("rank " + rank + " failed after " + elapsedMs(start) + " ms");
            System.out.flush();
            System.err.println(e.getMessage());
            System.exit(1);
        }
    }

    private static void collectives(DistributedGroup g) {
        int r = g.rank();
        try (PointerScope scope = new PointerScope()) {
            Tensor sum = floats(r + 1, 10 * (r + 1), -0.5 * (r + 1));
            g.allReduceSum(sum);
            print(r, "sum", sum);
            Tensor longs = torch.tensor(new long[]{r + 1, 1L << 40});
            g.allReduceSum(longs);
            print(r, "sum-long", longs);
            Tensor mean = floats(r + 1, 0);
            g.allReduceMean(mean);
            print(r, "mean", mean);
            Tensor fromFirst = floats(100 + 10 * r, 101 + 10 * r, 102 + 10 * r, 103 + 10 * r);
            g.broadcast(fromFirst, 0);
            print(r, "broadcast-0", fromFirst);
            Tensor fromLast = floats(r + 7);
            g.broadcast(fromLast, g.worldSize() - 1);
            print(r, "broadcast-last", fromLast);
        }
    }

    private static void peerDies(DistributedGroup g) {
        if (g.rank() == g.worldSize() - 1) {
            System.out.println("rank " + g.rank() + " halts");
            System.out.flush();
            Runtime.getRuntime().halt(3);
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor t = floats(1);
            long t0 = System.nanoTime();
            try {
                g.allReduceSum(t);
            } finally {
                System.out.println("rank " + g.rank() + " all-reduce ended after " + elapsedMs(t0) + " ms");
            }
        }
    }

    private static void bench(DistributedGroup g, long n, int repeats) {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = torch.ones(new long[]{n}, new TensorOptions(torch.ScalarType.Float));
            g.allReduceSum(t); // warm-up: Gloo's buffers and the pages of the tensor
            List<Double> ms = new ArrayList<>();
            for (int i = 0; i < repeats; i++) {
                g.barrier();
                long t0 = System.nanoTime();
                g.allReduceSum(t);
                ms.add((System.nanoTime() - t0) / 1e6);
            }
            List<Double> sorted = new ArrayList<>(ms);
            Collections.sort(sorted);
            StringJoiner all = new StringJoiner(" ");
            for (double m : ms) all.add(String.format("%.1f", m));
            System.out.printf("rank %d allreduce %d floats: ms %s; min %.1f median %.1f%n", g.rank(), n, all,
                    sorted.get(0), sorted.get(sorted.size() / 2));
        }
    }

    private static Tensor floats(double... v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return torch.tensor(f);
    }

    private static void print(int rank, String name, Tensor t) {
        Tensor c = t.contiguous();
        String values;
        if (c.is_floating_point()) {
            float[] v = new float[(int) c.numel()];
            c.data_ptr_float().get(v);
            values = Arrays.toString(v);
        } else {
            long[] v = new long[(int) c.numel()];
            c.data_ptr_long().get(v);
            values = Arrays.toString(v);
        }
        System.out.println("rank " + rank + " " + name + " " + values);
    }

    private static long elapsedMs(long since) {
        return (System.nanoTime() - since) / 1_000_000;
    }
}
