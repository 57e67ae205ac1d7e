package dev.frcnn.cli;

import dev.frcnn.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.FileNotFoundException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;

/**
 * Entry point of {@code bin/frcnn}. Exit codes (see shared/design.md): 0 success; 2 bad usage or bad input,
 * with one line on stderr naming the file and the problem; 1 anything else.
 */
@Command(name = "frcnn", mixinStandardHelpOptions = true, version = "frcnn 0.1.0",
        description = "Faster R-CNN for the JVM (a port of simple-faster-rcnn-pytorch over LibTorch).",
        subcommands = {BenchCommand.class, TrainCommand.class, EvalCommand.class, DetectCommand.class, DemoCommand.class})
public final class Main implements Runnable {
    /** Exceptions that mean "the user's input is wrong" (exit code 2). Other packages register theirs here. */
    private static final List<Class<? extends Throwable>> BAD_INPUT = new ArrayList<>(List.of(
            ConfigException.class, IllegalArgumentException.class, NoSuchFileException.class,
            FileNotFoundException.class, BadInputException.class, dev.frcnn.data.DataException.class,
            dev.frcnn.io.WeightsFormatException.class, dev.frcnn.io.WeightsMismatchException.class,
            dev.frcnn.train.RunExistsException.class));

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Runs the command line and exits with its code. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int run(String... args) {
        dev.frcnn.tensor.NativeLibraries.ensureExtracted(); // before anything loads LibTorch
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            boolean bad = isBadInput(ex);
            line.getErr().println("frcnn: " + message(ex));
            if (System.getenv("FRCNN_DEBUG") != null) ex.printStackTrace(line.getErr());
            return bad ? 2 : 1;
        });
        return cl.execute(args);
    }

    static boolean isBadInput(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            for (Class<? extends Throwable> c : BAD_INPUT) if (c.isInstance(t)) return true;
        }
        return false;
    }

    static String message(Throwable ex) {
        String m = ex.getMessage();
        if (ex instanceof NoSuchFileException || ex instanceof FileNotFoundException) return "file not found: " + m;
        if (m == null || m.isBlank()) return ex.getClass().getSimpleName();
        return m.replace('\n', ' ');
    }
}
