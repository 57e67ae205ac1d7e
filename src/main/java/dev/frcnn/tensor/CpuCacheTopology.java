package dev.frcnn.tensor;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The data caches the CPU reports, as Linux lists them under {@code /sys/devices/system/cpu/cpu0/cache/index*}.
 *
 * <p>Linux fills that directory from the same CPUID leaves that oneDNN (through Xbyak) reads to size its kernels'
 * blocking: leaf 4 ("deterministic cache parameters") on Intel, leaf {@code 0x8000001D} on AMD CPUs with
 * {@code topoext}. Some virtual machines zero those leaves (seen: AMD family 26 model 2, 2 vCPUs, where
 * {@code lscpu} lists no caches and the directory is absent). oneDNN then falls back to guessed cache sizes, and
 * LibTorch 2.10's oneDNN 3.7 divides by zero in its convolution backward-data blocking heuristic
 * ({@code brgemm_convolution_bwd_utils::brg_blocking_t::est_eff_1x1}) for 1x1 strided convolutions with 512 or more
 * input channels: a SIGFPE that kills the JVM. {@link ConvolutionBackward} uses this description to route the
 * convolution backward away from oneDNN on such machines. Reading the directory is the testable stand-in for
 * executing CPUID: when the leaves are empty the kernel lists no cache, when they are not it lists them.
 *
 * @param dataCaches the data and unified caches listed for CPU 0 (level, type, size), by level; empty when none are
 */
public record CpuCacheTopology(List<Cache> dataCaches) {
    /** The directory Linux describes the CPUs in. */
    public static final Path SYS_CPU = Path.of("/sys/devices/system/cpu");

    /**
     * One cache of CPU 0.
     *
     * @param level 1, 2, 3, ...
     * @param type {@code Data} or {@code Unified}
     * @param sizeBytes its size in bytes; 0 when the kernel gives none
     */
    public record Cache(int level, String type, long sizeBytes) {}

    /** Copies the list. */
    public CpuCacheTopology {
        dataCaches = List.copyOf(dataCaches);
    }

    /** Whether at least one data cache with a positive size is listed (false on the VMs described above). */
    public boolean listsDataCaches() {
        return dataCaches.stream().anyMatch(c -> c.sizeBytes() > 0);
    }

    /** One line for logs and {@code bench}: e.g. {@code L1 Data 48K, L2 Unified 1024K} or {@code no caches listed}. */
    public String describe() {
        if (dataCaches.isEmpty()) return "no caches listed";
        List<String> parts = new ArrayList<>();
        for (Cache c : dataCaches) parts.add("L" + c.level() + " " + c.type() + " " + c.sizeBytes() / 1024 + "K");
        return String.join(", ", parts);
    }

    /** This machine's topology, from {@link #SYS_CPU}. Never throws: unreadable entries count as not listed. */
    public static CpuCacheTopology probe() {
        return read(SYS_CPU);
    }

    /**
     * Reads {@code cpuDir/cpu0/cache/index*}: the entries whose {@code type} is {@code Data} or {@code Unified}.
     * Missing or unreadable directories and files give an empty list (or a size of 0), never an exception.
     *
     * @param cpuDir a directory laid out as {@code /sys/devices/system/cpu}
     */
    public static CpuCacheTopology read(Path cpuDir) {
        Path dir = cpuDir.resolve("cpu0").resolve("cache");
        List<Cache> caches = new ArrayList<>();
        if (!Files.isDirectory(dir)) return new CpuCacheTopology(caches);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "index*")) {
            for (Path index : entries) {
                String type = readLine(index.resolve("type"));
                if (!"Data".equals(type) && !"Unified".equals(type)) continue;
                int level;
                try {
                    level = Integer.parseInt(readLine(index.resolve("level")));
                } catch (NumberFormatException e) {
                    continue;
                }
                caches.add(new Cache(level, type, parseSize(readLine(index.resolve("size")))));
            }
        } catch (IOException | RuntimeException e) {
            // unreadable: counts as not listed
        }
        caches.sort(Comparator.comparingInt(Cache::level));
        return new CpuCacheTopology(caches);
    }

    /** Parses sysfs sizes such as {@code 48K}, {@code 1024K}, {@code 32M}; 0 when absent or malformed. */
    static long parseSize(String s) {
        if (s == null || s.isEmpty()) return 0;
        String t = s.trim().toUpperCase(Locale.ROOT);
        long unit = 1;
        char last = t.charAt(t.length() - 1);
        if (last == 'K') unit = 1024;
        else if (last == 'M') unit = 1024 * 1024;
        else if (last == 'G') unit = 1024L * 1024 * 1024;
        String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
        try {
            return Math.max(0, Long.parseLong(digits) * unit);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static String readLine(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
