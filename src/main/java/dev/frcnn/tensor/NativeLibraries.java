package dev.frcnn.tensor;

import org.bytedeco.javacpp.Loader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The one bootstrap in front of LibTorch: extracts the whole native directory of the JavaCPP PyTorch presets (and
 * of OpenBLAS, which they load) into the JavaCPP cache before the first {@code org.bytedeco.pytorch} class loads.
 *
 * <p>Why: JavaCPP extracts and loads the presets' libraries one at a time, in the order of their
 * {@code @Platform(preload)} list, and {@code libtorch.so} is loaded before {@code libtorch_cpu.so} has been
 * extracted. {@code libtorch.so} needs {@code libtorch_cpu.so} and finds it through its {@code RUNPATH $ORIGIN}
 * only if the file is already in the cache directory; on the first run (empty cache) the dynamic linker falls
 * back to the system's library path and, on a machine with Debian's {@code libtorch-dev}/{@code python3-torch},
 * takes LibTorch 1.13's {@code /usr/lib/x86_64-linux-gnu/libtorch_cpu.so}; JavaCPP then loads the presets' 2.10
 * copy as well and the process dies in {@code pthread_mutex_lock}. With the whole directory extracted first,
 * every {@code NEEDED} entry resolves to the presets' own file through {@code $ORIGIN}, whatever the system has.
 * See {@code docs/architecture.md} ("Native libraries").
 *
 * <p>Every path into LibTorch calls {@link #ensureExtracted()} first: {@code cli.Main}, the test JVMs (a JUnit
 * {@code LauncherSessionListener}), and the library's entry classes ({@code Detectors}, {@code ModelWeights},
 * {@code Checkpoints}, {@code ImageReader}) in their static initialisers. On a warm cache it costs about 20 ms
 * once per JVM (a size check per file); on an empty cache it extracts what the first load would extract anyway.
 *
 * <p>It also sizes oneDNN's primitive cache ({@link PrimitiveCache#configure()}), which must happen before
 * LibTorch's first convolution, and then decides which kernels compute convolution gradients on this CPU
 * ({@link ConvolutionBackward#configure()}: oneDNN's crash on CPUs that report no caches).
 */
public final class NativeLibraries {
    private NativeLibraries() {}

    /** Native resource packages extracted as a whole, in this order. */
    static final List<String> PACKAGES = List.of("org/bytedeco/openblas/", "org/bytedeco/pytorch/");

    private static volatile boolean extracted;

    /**
     * Extracts the native directories of {@link #PACKAGES} for this platform (and its extension, e.g.
     * {@code -gpu}) into the JavaCPP cache, calls {@link PrimitiveCache#configure()} before and
     * {@link ConvolutionBackward#configure()} after, once per JVM; loads no library except on CPUs that report no
     * caches (there it loads LibTorch to switch NNPACK off). Safe to call from several threads.
     *
     * @throws UncheckedIOException if the cache directory cannot be written
     */
    public static void ensureExtracted() {
        if (extracted) return;
        synchronized (NativeLibraries.class) {
            if (extracted) return;
            PrimitiveCache.configure();
            String platform = Loader.getPlatform();
            String ext = System.getProperty("org.bytedeco.javacpp.platform.extension", "");
            try {
                for (String pkg : PACKAGES) {
                    Loader.cacheResources("/" + pkg + platform + "/");
                    if (!ext.isEmpty()) Loader.cacheResources("/" + pkg + platform + ext + "/");
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot extract the LibTorch libraries into the JavaCPP cache "
                        + "(org.bytedeco.javacpp.cachedir): " + e.getMessage(), e);
            }
            extracted = true;
            ConvolutionBackward.configure();
        }
    }
}
