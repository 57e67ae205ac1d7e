package dev.frcnn.testing;

import dev.frcnn.cli.Main;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs the command line in this JVM, then prints every LibTorch library the process has mapped (from
 * {@code /proc/self/maps}) as {@code mapped: <path>} lines, and exits with the command's code. Used by
 * {@code FirstRunWithSystemLibTorchTest} in a child JVM.
 */
public final class LibTorchProbe {
    private LibTorchProbe() {}

    public static void main(String[] args) throws IOException {
        int code = Main.run(args);
        Files.readAllLines(Path.of("/proc/self/maps")).stream().map(l -> l.replaceAll("^.*? (/\\S+)$", "$1"))
                .filter(p -> p.startsWith("/") && p.matches(".*/lib(torch|c10)[^/]*\\.so.*")).distinct()
                .forEach(p -> System.out.println("mapped: " + p));
        System.exit(code);
    }
}
