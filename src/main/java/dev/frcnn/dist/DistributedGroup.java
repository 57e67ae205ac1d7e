package dev.frcnn.dist;

import dev.frcnn.tensor.NativeLibraries;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.BarrierOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.gloo.Device;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A process group over PyTorch's c10d with the Gloo backend (CPU tensors): the processes of one data-parallel job,
 * joined through rank 0's {@code TCPStore} as {@code torchrun}'s {@code env://} rendezvous does, and the collectives
 * a data-parallel trainer needs. Every collective is c10d's own ({@code ProcessGroupGloo}); nothing here moves
 * tensor bytes itself.
 *
 * <p>{@link #join(Rendezvous, Duration)} blocks until every rank has joined, or fails within the timeout with a
 * {@link DistributedException} whose one-line message names this rank and the cause; the same timeout bounds each
 * collective, and a peer that dies makes the collective fail at once ("Connection closed by peer"). With world size
 * 1 there is no store and no Gloo: the collectives leave the tensor as it is.
 *
 * <p>Collectives are blocking and in place. Every rank must call the same collectives in the same order with tensors
 * of the same shape and dtype (c10d's rule; a mismatch hangs until the timeout or fails). Not thread-safe: call it
 * from one thread. {@link #close()} releases the process group and the store; call {@link #barrier()} before it
 * when ranks may finish at different times.
 *
 * <p>Gloo's network device: the interfaces in {@code GLOO_SOCKET_IFNAME} (comma-separated, as PyTorch reads it)
 * when set; otherwise loopback when {@code MASTER_ADDR} is a loopback address (all ranks on this machine), else
 * Gloo's default device (the address this machine's host name resolves to).
 */
public final class DistributedGroup implements AutoCloseable {
    /** The rendezvous and collective timeout when none is given: 5 minutes. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    static {
        NativeLibraries.ensureExtracted();
    }

    private static final Pattern SOURCE_LOCATION = Pattern.compile("^\\[[^\\]]*:\\d+\\]\\s*(.*)$");

    private final Rendezvous rendezvous;
    private final Duration timeout;
    private final TCPStore store;
    private final ProcessGroupGloo group;
    private boolean closed;

    private DistributedGroup(Rendezvous rendezvous, Duration timeout, TCPStore store, ProcessGroupGloo group) {
        this.rendezvous = rendezvous;
        this.timeout = timeout;
        this.store = store;
        this.group = group;
    }

    /**
     * {@link #join(Rendezvous, Duration)} with {@link #DEFAULT_TIMEOUT}.
     *
     * @throws DistributedException as {@link #join(Rendezvous, Duration)}
     */
    public static DistributedGroup join(Rendezvous rendezvous) {
        return join(rendezvous, DEFAULT_TIMEOUT);
    }

    /**
     * Joins the job {@code rendezvous} describes: rank 0 starts the {@code TCPStore} on {@code MASTER_PORT} and waits
     * for the others to connect, every rank connects to it, and the ranks connect Gloo's full mesh through it.
     *
     * @param rendezvous this process's place in the job ({@link Rendezvous#fromEnvironment()})
     * @param timeout the longest the whole rendezvous may take, and each later collective; at least 1 ms
     * @return the joined group; with world size 1, a group whose collectives do nothing
     * @throws DistributedException if the rendezvous does not complete within {@code timeout} (a rank missing, rank
     *         0's address or port unreachable, the port in use on rank 0) or c10d fails; the message names the rank,
     *         rank 0's address and what this rank was waiting for
     * @throws IllegalArgumentException if {@code timeout} is shorter than 1 ms
     */
    public static DistributedGroup join(Rendezvous rendezvous, Duration timeout) {
        Objects.requireNonNull(rendezvous, "rendezvous");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.toMillis() < 1) throw new IllegalArgumentException("timeout must be at least 1 ms, got " + timeout);
        if (!rendezvous.isDistributed()) return new DistributedGroup(rendezvous, timeout, null, null);
        long deadline = System.nanoTime() + timeout.toNanos();
        AtomicReference<String> stage = new AtomicReference<>("starting");
        CompletableFuture<DistributedGroup> joined = new CompletableFuture<>();
        // c10d's TCPStore client retries a failed connection after a random back-off that can end well past the
        // timeout it was given (10 s became 15 s here), so the deadline is kept here: the calls run on a daemon
        // thread, and one still blocked at the deadline is left to c10d's own timeout.
        Thread.ofPlatform().daemon().name("c10d-rendezvous-rank-" + rendezvous.rank()).start(() -> {
            try {
                joined.complete(connect(rendezvous, timeout, deadline, stage));
            } catch (Throwable t) {
                joined.completeExceptionally(t);
            }
        });
        String where = "rendezvous with " + rendezvous.masterAddr() + ":" + rendezvous.masterPort();
        try {
            return joined.get(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            joined.thenAccept(DistributedGroup::close);
            throw new DistributedException(rendezvous.describe() + ": " + where + " did not complete within "
                    + format(timeout) + " (" + stage.get() + ")", null);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw new DistributedException(rendezvous.describe() + ": " + where + " failed while " + stage.get()
                    + ": " + firstLine(cause), cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            joined.thenAccept(DistributedGroup::close);
            throw new DistributedException(rendezvous.describe() + ": " + where + " was interrupted while "
                    + stage.get(), e);
        }
    }

    private static DistributedGroup connect(Rendezvous r, Duration timeout, long deadline,
                                            AtomicReference<String> stage) {
        int others = r.worldSize() - 1;
        stage.set(r.rank() == 0
                ? "rank 0 serving the store on port " + r.masterPort() + " and waiting for " + others + " other "
                        + (others == 1 ? "process" : "processes") + " to connect"
                : "connecting to rank 0's store at " + r.masterAddr() + ":" + r.masterPort());
        TCPStore store;
        try (TCPStoreOptions o = new TCPStoreOptions(); SizeTPointer workers = new SizeTPointer(1)) {
            o.port((short) r.masterPort()); // uint16_t: ports above 32767 wrap to the same bits
            o.isServer(r.rank() == 0);
            o.numWorkers(workers.put(r.worldSize()));
            o.waitWorkers(true);
            o.timeout(remaining(deadline));
            store = new TCPStore(r.masterAddr(), o);
        }
        try {
            stage.set("connecting the Gloo process group to the other " + (others == 1 ? "rank" : others + " ranks"));
            ProcessGroupGloo group;
            try (ProcessGroupGloo.Options options = ProcessGroupGloo.Options.create(remaining(deadline))) {
                for (Device device : devices(r)) options.devices().push_back(device);
                group = new ProcessGroupGloo(store, r.rank(), r.worldSize(), options);
            }
            group.setTimeout(millis(timeout));
            stage.set("joined");
            return new DistributedGroup(r, timeout, store, group);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    private static List<Device> devices(Rendezvous r) {
        String ifnames = System.getenv("GLOO_SOCKET_IFNAME");
        if (ifnames != null && !ifnames.isBlank()) {
            return Arrays.stream(ifnames.split(",")).map(String::strip).filter(s -> !s.isEmpty())
                    .map(ProcessGroupGloo::createDeviceForInterface).toList();
        }
        boolean loopback;
        try {
            loopback = InetAddress.getByName(r.masterAddr()).isLoopbackAddress();
        } catch (UnknownHostException e) {
            loopback = false; // the store's connection reports the unknown host
        }
        return List.of(loopback ? ProcessGroupGloo.createDeviceForHostname(r.masterAddr())
                : ProcessGroupGloo.createDefaultDevice());
    }

    /** This process's rank, 0..{@link #worldSize()}-1. */
    public int rank() {
        return rendezvous.rank();
    }

    /** The number of processes in the group. */
    public int worldSize() {
        return rendezvous.worldSize();
    }

    /** The rendezvous this group was joined with. */
    public Rendezvous rendezvous() {
        return rendezvous;
    }

    /** The rendezvous and collective timeout. */
    public Duration timeout() {
        return timeout;
    }

    /**
     * Replaces {@code tensor}'s values, on every rank, by their element-wise sum over the ranks (c10d
     * {@code allreduce} with {@code SUM}).
     *
     * @param tensor a dense CPU tensor of the same shape and dtype on every rank; changed in place
     * @throws DistributedException if c10d fails (a peer died or timed out); the message names the rank
     * @throws IllegalStateException if the group is closed
     */
    public void allReduceSum(Tensor tensor) {
        allReduce(tensor, ReduceOp.RedOpType.SUM, "all-reduce (sum)");
    }

    /**
     * Replaces {@code tensor}'s values, on every rank, by their element-wise mean over the ranks (c10d
     * {@code allreduce} with {@code AVG}: the sum divided by {@link #worldSize()}).
     *
     * @param tensor a dense floating-point CPU tensor of the same shape and dtype on every rank; changed in place
     * @throws IllegalArgumentException if {@code tensor} is not floating-point (an integer mean would truncate)
     * @throws DistributedException if c10d fails; the message names the rank
     * @throws IllegalStateException if the group is closed
     */
    public void allReduceMean(Tensor tensor) {
        if (!tensor.is_floating_point())
            throw new IllegalArgumentException("allReduceMean needs a floating-point tensor, got "
                    + Tensors.typeName(tensor));
        allReduce(tensor, ReduceOp.RedOpType.AVG, "all-reduce (mean)");
    }

    private void allReduce(Tensor tensor, ReduceOp.RedOpType op, String name) {
        Objects.requireNonNull(tensor, "tensor");
        checkOpen();
        if (group == null) return;
        run(name, () -> {
            AllreduceOptions o = new AllreduceOptions();
            o.reduceOp(new ReduceOp(op));
            o.timeout(millis(timeout));
            return group.allreduce(new TensorVector(tensor), o);
        });
    }

    /**
     * Copies rank {@code root}'s values of {@code tensor} into {@code tensor} on every rank (c10d {@code broadcast}).
     *
     * @param tensor a dense CPU tensor of the same shape and dtype on every rank; changed in place on the others
     * @param root the rank whose values are sent, 0..{@link #worldSize()}-1
     * @throws IllegalArgumentException if {@code root} is not a rank of the group
     * @throws DistributedException if c10d fails; the message names the rank
     * @throws IllegalStateException if the group is closed
     */
    public void broadcast(Tensor tensor, int root) {
        Objects.requireNonNull(tensor, "tensor");
        if (root < 0 || root >= worldSize())
            throw new IllegalArgumentException("root must be a rank in 0.." + (worldSize() - 1) + ", got " + root);
        checkOpen();
        if (group == null) return;
        run("broadcast from rank " + root, () -> {
            BroadcastOptions o = new BroadcastOptions();
            o.rootRank(root);
            o.timeout(millis(timeout));
            return group.broadcast(new TensorVector(tensor), o);
        });
    }

    /**
     * Returns once every rank has called it (c10d {@code barrier}).
     *
     * @throws DistributedException if a rank does not arrive within the timeout or died; the message names the rank
     * @throws IllegalStateException if the group is closed
     */
    public void barrier() {
        barrier(timeout);
    }

    /**
     * As {@link #barrier()} with its own timeout instead of the group's: for a wait known to be long (the other ranks
     * waiting while rank 0 evaluates). A rank that dies still ends it at once.
     *
     * @param timeout the longest this barrier waits, at least 1 ms
     * @throws DistributedException if a rank does not arrive within {@code timeout} or died; names the rank
     * @throws IllegalArgumentException if {@code timeout} is shorter than 1 ms
     * @throws IllegalStateException if the group is closed
     */
    public void barrier(Duration timeout) {
        if (timeout.toMillis() < 1) throw new IllegalArgumentException("timeout must be at least 1 ms, got " + timeout);
        checkOpen();
        if (group == null) return;
        run("barrier", () -> {
            BarrierOptions o = new BarrierOptions();
            o.timeout(millis(timeout));
            return group.barrier(o);
        });
    }

    /** Releases the process group and the store (rank 0 stops serving it); idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (group != null) group.close();
        if (store != null) store.close();
    }

    private void run(String name, Supplier<Work> collective) {
        try (PointerScope scope = new PointerScope()) {
            collective.get()._wait();
        } catch (RuntimeException e) {
            throw new DistributedException(rendezvous.describe() + ": " + name + " failed: " + firstLine(e), e);
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException(rendezvous.describe() + ": the process group is closed");
    }

    private static Milliseconds remaining(long deadline) {
        return new Milliseconds(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    }

    private static Milliseconds millis(Duration d) {
        return new Milliseconds(d.toMillis());
    }

    /** c10d's message without its C++ stack trace and source location, e.g. "Connection closed by peer ...". */
    static String firstLine(Throwable t) {
        String m = t.getMessage();
        if (m == null || m.isBlank()) return t.getClass().getSimpleName();
        String line = m.strip().lines().findFirst().orElse("").strip();
        Matcher loc = SOURCE_LOCATION.matcher(line);
        return loc.matches() && !loc.group(1).isBlank() ? loc.group(1) : line;
    }

    /** "10 s", "2.5 s", "5 min". */
    static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 60_000 == 0) return ms / 60_000 + " min";
        if (ms % 1000 == 0) return ms / 1000 + " s";
        return ms / 1000.0 + " s";
    }
}
