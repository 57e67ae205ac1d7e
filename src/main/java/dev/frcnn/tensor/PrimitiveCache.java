package dev.frcnn.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Sizes oneDNN's cache of compiled primitives for a detector's many input shapes, before LibTorch first uses it.
 *
 * <p>On the CPU, LibTorch runs convolutions through oneDNN, which compiles a kernel (a "primitive") for each
 * operation and exact tensor shape and keeps the last 1024 in an LRU cache. A classifier sees one shape; a detector
 * sees one per image size, because images keep their aspect ratio (600 x 800, 600 x 901, 562 x 1000, ...). One
 * new image size costs the SqueezeNet detector about 20 primitives in training (forward, and backward for data and
 * weights, of the convolutions at that size), and the raccoon trainval split alone has 77 sizes: more than 1024
 * primitives, so with the default capacity each image evicts what the next ones need, and every training step
 * compiles its convolutions again (about 1 ms each). With {@link #CAPACITY} entries each size is compiled once per
 * process. docs/performance.md ("oneDNN's primitive cache") has the measurements.
 *
 * <p>oneDNN reads its capacity from the environment ({@code ONEDNN_PRIMITIVE_CACHE_CAPACITY}, or the older
 * {@code DNNL_PRIMITIVE_CACHE_CAPACITY}) when it creates its first primitive, so {@link #configure()} sets
 * {@link #VARIABLE} in the process environment with C's {@code setenv} before that ({@link System#getenv} sees the
 * value only if the JVM had not read its environment yet). A capacity the user already gave under either name is kept. {@link NativeLibraries#ensureExtracted()},
 * the bootstrap every path into LibTorch goes through, calls it. The system property
 * {@code frcnn.primitiveCacheCapacity} overrides {@link #CAPACITY}; 0 leaves oneDNN's default.
 */
public final class PrimitiveCache {
    private PrimitiveCache() {}

    /**
     * Capacity set for oneDNN's primitive cache, in primitives: room for about a thousand image sizes of the
     * SqueezeNet detector in training. The system property {@code frcnn.primitiveCacheCapacity} overrides it; 0
     * leaves oneDNN's default (1024).
     */
    public static final int CAPACITY = Integer.getInteger("frcnn.primitiveCacheCapacity", 20_000);

    /** The environment variable that {@link #configure()} sets. */
    public static final String VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY";

    /** The older name oneDNN also reads; when it is set, {@link #configure()} leaves the environment alone. */
    public static final String LEGACY_VARIABLE = "DNNL_PRIMITIVE_CACHE_CAPACITY";

    private static final MethodHandle SETENV = lookup("setenv",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle GETENV = lookup("getenv",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS));

    private static volatile boolean configured;

    /**
     * Sets {@link #VARIABLE} to {@link #CAPACITY} in the process environment unless it or {@link #LEGACY_VARIABLE}
     * is already set, once per JVM. Does nothing when {@link #CAPACITY} is 0 or where the C library lacks
     * {@code setenv}/{@code getenv}: oneDNN then keeps its default, which changes speed, not results. Takes effect
     * only before LibTorch's first convolution.
     *
     * @throws IllegalStateException if calling {@code setenv} fails
     */
    public static void configure() {
        if (configured) return;
        synchronized (PrimitiveCache.class) {
            if (configured) return;
            configured = true;
            if (CAPACITY <= 0 || SETENV == null || GETENV == null || getenv(LEGACY_VARIABLE) != null) return;
            int rc;
            try (Arena arena = Arena.ofConfined()) {
                rc = (int) SETENV.invokeExact(arena.allocateFrom(VARIABLE),
                        arena.allocateFrom(Integer.toString(CAPACITY)), 0);
            } catch (Throwable t) {
                throw new IllegalStateException("setenv(" + VARIABLE + ") failed", t);
            }
            if (rc != 0) throw new IllegalStateException("setenv(" + VARIABLE + ") returned " + rc);
        }
    }

    /**
     * The value of an environment variable as C code sees it ({@code getenv}): unlike {@link System#getenv(String)},
     * whose copy of the environment is taken once, it reflects every {@code setenv} call.
     *
     * @param name the variable's name
     * @return its value, or null when it is not set or the C library has no {@code getenv}
     */
    public static String getenv(String name) {
        if (GETENV == null) return null;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = (MemorySegment) GETENV.invokeExact(arena.allocateFrom(name));
            return v.equals(MemorySegment.NULL) ? null : v.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException("getenv(" + name + ") failed", t);
        }
    }

    private static MethodHandle lookup(String symbol, FunctionDescriptor descriptor) {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find(symbol).map(a -> linker.downcallHandle(a, descriptor)).orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }
}
