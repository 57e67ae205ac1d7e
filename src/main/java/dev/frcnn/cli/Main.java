package dev.frcnn.cli;

import dev.frcnn.error.UserInputException;
import dev.frcnn.train.TrainingDivergedException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;

/**
 * Entry point of {@code bin/frcnn}. Exit codes (see shared/design.md): 0 success; 2 bad usage or bad input
 * ({@link UserInputException}, a missing file, a picocli usage error), with one line on stderr naming the file and
 * the problem; 1 anything else: one line, which for an unexpected exception (a bug of ours) names its type and
 * says to rerun with {@code FRCNN_DEBUG=1} for the stack trace. Training stopped by a signal exits with 128 + the
 * signal (the commands handle it).
 */
@Command(name = "frcnn", mixinStandardHelpOptions = true, version = "frcnn 0.1.0",
        description = "Faster R-CNN for the JVM (a port of simple-faster-rcnn-pytorch over LibTorch).",
        subcommands = {BenchCommand.class, TrainCommand.class, EvalCommand.class, DetectCommand.class, DemoCommand.class,
                ConvertCommand.class})
public final class Main implements Runnable {
    /** Exit code of the user's errors: bad usage or bad input. */
    static final int BAD_INPUT = 2;
    /** Exit code of every other failure. */
    static final int FAILURE = 1;
    /** Set (to any value) for the stack trace of every failure on stderr. */
    static final String DEBUG_VARIABLE = "FRCNN_DEBUG";

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
        boolean debug = System.getenv(DEBUG_VARIABLE) != null;
        cl.setExecutionExceptionHandler((ex, line, parsed) -> report(ex, line.getErr(), debug));
        return cl.execute(args);
    }

    /**
     * Reports a command's failure on {@code err} and gives the exit code: {@code frcnn: <message>} and 2 for the
     * user's errors; {@code frcnn: <message>} and 1 for a failure of the environment (an {@link IOException} such
     * as a full disk) or a diverged training run; for anything else, a bug of ours,
     * {@code frcnn: internal error (<type>: <first line of the message>)} and 1. One line each (plus, for an internal
     * error, a hint to rerun with {@code FRCNN_DEBUG=1}); with {@code debug}, the stack trace follows.
     *
     * @param ex what the command threw
     * @param err where to print
     * @param debug whether to print the stack trace ({@code FRCNN_DEBUG} is set)
     * @return the exit code, {@link #BAD_INPUT} or {@link #FAILURE}
     */
    static int report(Throwable ex, PrintWriter err, boolean debug) {
        int code;
        String line;
        if (isBadInput(ex)) {
            code = BAD_INPUT;
            line = message(ex);
        } else if (isExpectedFailure(ex)) {
            code = FAILURE;
            line = message(ex);
        } else {
            code = FAILURE;
            String m = ex.getMessage() == null ? "" : ex.getMessage().strip().lines().findFirst().orElse("");
            line = "internal error (" + ex.getClass().getSimpleName() + (m.isEmpty() ? "" : ": " + m) + ")"
                    + (debug ? "" : "; rerun with " + DEBUG_VARIABLE + "=1 for the stack trace");
        }
        err.println("frcnn: " + line);
        if (debug) ex.printStackTrace(err);
        err.flush();
        return code;
    }

    /** Whether the user's input is at fault: a {@link UserInputException} or a missing file, in the cause chain. */
    static boolean isBadInput(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof UserInputException || t instanceof NoSuchFileException
                    || t instanceof FileNotFoundException) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a failure that is not the user's is still not a bug: the environment's ({@link IOException}: a full
     * disk, an unreadable file), the run's ({@link TrainingDivergedException}) or the data-parallel job's (a rank that
     * died or did not join in time: {@link dev.frcnn.dist.DistributedException}), in the cause chain. Its message says
     * what happened, so it is printed as is.
     */
    static boolean isExpectedFailure(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof IOException || t instanceof TrainingDivergedException
                    || t instanceof dev.frcnn.dist.DistributedException) return true;
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
