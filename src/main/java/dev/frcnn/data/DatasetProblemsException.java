package dev.frcnn.data;

import java.nio.file.Path;
import java.util.List;

/**
 * The problems {@link DatasetCheck} found in a dataset before training or evaluation started: every listed image
 * that is missing, unreadable, not a supported image, above {@code max_image_pixels}, truncated (with
 * {@code truncated_images: error}, or not decodable even completed), and every annotation that cannot be used. All
 * are collected, so one run reports them all: the message lists the first {@link #LISTED} (file and problem each)
 * and counts the rest, on one line. A {@link DataException} (the CLI exits with 2).
 */
public class DatasetProblemsException extends DataException {
    private static final long serialVersionUID = 1L;

    /** How many problems the message lists by name; {@link #problems()} has them all. */
    public static final int LISTED = 10;

    /**
     * One problem.
     *
     * @param file the image or annotation file
     * @param problem what is wrong with it (without the file name)
     */
    public record Problem(Path file, String problem) {
        @Override
        public String toString() {
            return file + ": " + problem;
        }
    }

    private final transient List<Problem> problems;

    /**
     * @param dataDir the dataset directory
     * @param problems at least one, in a stable order (split, then split-file order)
     */
    public DatasetProblemsException(Path dataDir, List<Problem> problems) {
        super(dataDir, describe(problems));
        this.problems = List.copyOf(problems);
    }

    /** All the problems, in split and split-file order. */
    public List<Problem> problems() {
        return problems;
    }

    private static String describe(List<Problem> problems) {
        StringBuilder sb = new StringBuilder();
        sb.append(problems.size()).append(problems.size() == 1 ? " problem" : " problems")
                .append(" in the dataset, found before training or evaluation started (nothing was run): ");
        int n = Math.min(LISTED, problems.size());
        for (int i = 0; i < n; i++) {
            if (i > 0) sb.append("; ");
            sb.append(problems.get(i));
        }
        if (problems.size() > n) sb.append("; and ").append(problems.size() - n).append(" more");
        return sb.toString();
    }
}
