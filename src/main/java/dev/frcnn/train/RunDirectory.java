package dev.frcnn.train;

import dev.frcnn.error.UserInputException;
import dev.frcnn.io.Checkpoints;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The files of a training run in its directory, and the rules that protect them: a fresh run refuses a directory
 * that holds a run ({@link RunExistsException}) unless it resumes it or is told to replace it; replacing removes
 * exactly the run's files ({@link #RUN_FILES}); every start removes the temporary files that a save killed before
 * its rename left behind ({@link Checkpoints#isTemporaryOf(String, String)} of a checkpoint or a chart,
 * {@link #ATOMIC_FILES}), and nothing else.
 */
public final class RunDirectory {
    /** The running state, written every {@code checkpoint_every} steps, at each epoch's end and on a stop. */
    public static final String LAST = "last.ckpt";
    /** The weights of the best epoch so far. */
    public static final String BEST = "best.ckpt";
    /**
     * Every file {@link TrainLoop} writes in a run directory: what makes a directory hold a run, and what
     * {@code --overwrite} removes. Other files (the user's notes, the demo's folders) are never touched.
     */
    public static final List<String> RUN_FILES = List.of(LAST, BEST, "config.json", "losses.csv", "metrics.csv",
            "loss_curve.png", "loss_curve.svg", "metrics.png", "metrics.svg");
    /**
     * The {@link #RUN_FILES} written to a temporary file and renamed over the old one (the checkpoints and the charts,
     * {@code dev.frcnn.chart.ChartFiles}): a save killed before its rename leaves {@code <name><digits>.tmp} behind.
     */
    public static final List<String> ATOMIC_FILES = List.of(LAST, BEST, "loss_curve.png", "loss_curve.svg",
            "metrics.png", "metrics.svg");

    private RunDirectory() {}

    /**
     * @return the names of {@link #RUN_FILES} present in {@code dir} (as links or files of any kind), in that order;
     *     empty if {@code dir} does not exist
     */
    public static List<String> runFiles(Path dir) {
        List<String> found = new ArrayList<>();
        for (String f : RUN_FILES) if (Files.exists(dir.resolve(f), LinkOption.NOFOLLOW_LINKS)) found.add(f);
        return found;
    }

    /**
     * @return the regular files (not links) in {@code dir} that a save of one of the {@link #ATOMIC_FILES} left behind
     *     when it was killed before its rename, sorted by name; empty if {@code dir} does not exist
     * @throws IOException if the directory cannot be listed
     */
    public static List<Path> staleTemporaryFiles(Path dir) throws IOException {
        List<Path> stale = new ArrayList<>();
        if (!Files.isDirectory(dir)) return stale;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) continue;
                for (String f : ATOMIC_FILES) {
                    if (Checkpoints.isTemporaryOf(n, f)) {
                        stale.add(p);
                        break;
                    }
                }
            }
        }
        stale.sort(null);
        return stale;
    }

    /**
     * Checks that a run may start in {@code dir}, before anything is read or written: a fresh run needs a
     * directory without a run; {@code resume} needs {@code last.ckpt}; {@code overwrite} accepts anything.
     *
     * @throws RunExistsException if a fresh run (neither resume nor overwrite) meets a run's files
     * @throws UserInputException if both resume and overwrite are asked, or resume finds no {@code last.ckpt}
     */
    public static void checkStart(Path dir, boolean resume, boolean overwrite) {
        if (resume && overwrite) {
            throw new UserInputException("--resume and --overwrite exclude each other: resume continues the run in "
                    + dir + ", overwrite replaces it");
        }
        if (resume) {
            Path last = dir.resolve(LAST);
            if (!Files.isRegularFile(last)) throw new UserInputException(last + ": no checkpoint to resume from");
        } else if (!overwrite) {
            List<String> found = runFiles(dir);
            if (!found.isEmpty()) throw new RunExistsException(dir, found);
        }
    }

    /**
     * Removes the stale temporary files ({@link #staleTemporaryFiles(Path)}) and logs one line naming them, or
     * nothing if there are none.
     *
     * @return the removed files
     * @throws IOException if one cannot be removed
     */
    public static List<Path> removeStaleTemporaryFiles(Path dir, PrintStream log) throws IOException {
        List<Path> stale = staleTemporaryFiles(dir);
        if (stale.isEmpty()) return stale;
        List<String> names = new ArrayList<>();
        for (Path p : stale) {
            long size = Files.size(p);
            Files.delete(p);
            names.add(String.format(Locale.ROOT, "%s (%.1f MB)", p.getFileName(), size / 1e6));
        }
        log.printf("removed %d stale temporary file%s left by an interrupted save in %s: %s%n", stale.size(),
                stale.size() == 1 ? "" : "s", dir, String.join(", ", names));
        return stale;
    }

    /**
     * Removes the previous run's files ({@link #RUN_FILES}) for {@code --overwrite} (and the demo, which replaces its
     * own previous run), and logs one line naming them,
     * or nothing if there are none. A directory among them is not removed (it is not ours): that is an error.
     *
     * @return the names of the removed files
     * @throws UserInputException if one of them is a directory (nothing is removed)
     * @throws IOException if one cannot be removed
     */
    public static List<String> removeRun(Path dir, PrintStream log) throws IOException {
        List<String> found = runFiles(dir);
        for (String f : found) {
            Path p = dir.resolve(f);
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                throw new UserInputException(p + " is a directory, not a file of a training run; --overwrite "
                        + "does not remove it");
            }
        }
        for (String f : found) Files.delete(dir.resolve(f));
        if (!found.isEmpty()) log.printf("replaced the previous run in %s: removed its %s%n", dir, String.join(", ", found));
        return found;
    }
}
