package dev.frcnn.testing;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Command lines for the tests that run code in a child JVM (a crash, a signal, stderr or the environment of its own):
 * this JDK's {@code java} with the flags {@code bin/frcnn} passes (or exactly the caller's), the test class path (or
 * the caller's), a main class and its arguments. Every test that starts a JVM builds its command here.
 */
public final class ChildJvm {
    private ChildJvm() {}

    /** The flags {@code bin/frcnn} passes to {@code java}: native access for the class path, Unsafe allowed, headless. */
    public static final List<String> BIN_FRCNN_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "-Djava.awt.headless=true");

    /** @return this JDK's {@code java} executable ({@code java.home}) */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * {@code java}, exactly {@code jvmOptions}, a class path, a main class and its arguments: for a command line as
     * someone else writes it (the README's).
     *
     * @return a mutable command list
     */
    public static List<String> command(List<String> jvmOptions, String classPath, String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(java()));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", classPath, mainClass));
        cmd.addAll(args);
        return cmd;
    }

    /**
     * {@code java} with {@link #BIN_FRCNN_FLAGS}, a heap limit and {@code jvmOptions}, on the test class path.
     *
     * @param maxHeap e.g. {@code "1g"}
     * @param jvmOptions further options before the class path (system properties, ...)
     * @param mainClass the class to run
     * @param args its arguments
     * @return a mutable command list
     */
    public static List<String> command(String maxHeap, List<String> jvmOptions, String mainClass, List<String> args) {
        List<String> options = new ArrayList<>(BIN_FRCNN_FLAGS);
        options.add("-Xmx" + maxHeap);
        options.addAll(jvmOptions);
        return command(options, System.getProperty("java.class.path"), mainClass, args);
    }

    /** {@link #command} with a 1 GB heap and no further options. */
    public static List<String> command(String mainClass, List<String> args) {
        return command("1g", List.of(), mainClass, args);
    }

    /**
     * The arguments of {@code bin/frcnn train} on the demo's shapes data in {@code data} (split {@code train}), with
     * {@code configs/voc07-vgg16.json} overridden by {@code settings} ({@code --set} each) and no progress bar: for
     * {@link #train} and for {@code Main.run} in the test's own JVM.
     *
     * @param resume whether to pass {@code --resume}
     * @return a mutable list
     */
    public static List<String> trainArgs(Path data, Path out, List<String> settings, boolean resume) {
        List<String> args = new ArrayList<>(List.of("train",
                "--config", Path.of("configs/voc07-vgg16.json").toAbsolutePath().toString(),
                "--data", data.toString(), "--out", out.toString(), "--train-split", "train", "--no-progress"));
        args.addAll(TinyModels.setOptions(settings));
        if (resume) args.add("--resume");
        return args;
    }

    /** {@link #trainArgs} run by {@code dev.frcnn.cli.Main} in a child JVM ({@link #command(String, List)}). */
    public static List<String> train(Path data, Path out, List<String> settings, boolean resume) {
        return command("dev.frcnn.cli.Main", trainArgs(data, out, settings, resume));
    }
}
