package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rule that keeps {@code detect} from writing over anything the user made, checked for all inputs before any
 * model is loaded or any file written. {@code detect --out DIR} writes {@code DIR/<stem>.png} and
 * {@code DIR/<stem>.json} per input (shared/design.md); it refuses with exit code 2 and one line naming the files
 * when
 * <ol>
 *   <li>an output would be one of the inputs (compared by real path, so links, {@code ./x} and relative against
 *       absolute paths are seen through): e.g. {@code detect --out photos photos/x.png};</li>
 *   <li>two different input files have the same stem ({@code a.png} and {@code a.jpg}): their outputs would
 *       collide. The same file given twice is no collision (its outputs are the same);</li>
 *   <li>an output exists and is not the output of an earlier {@code detect}: {@code <stem>.json} must be ours (a
 *       JSON object with {@code image}, {@code width}, {@code height}, {@code detections}), an existing
 *       {@code <stem>.png} needs our {@code <stem>.json} beside it, and neither may be a link. A user's photo
 *       {@code a.png} beside the input {@code a.jpg} is therefore refused, while running {@code detect} again into
 *       the same directory replaces its own earlier results.</li>
 * </ol>
 * Refusing rather than writing beside under another name keeps the contract's file names, so a script always
 * finds {@code DIR/<stem>.png}.
 */
final class DetectOutputs {
    /** Larger files are not our detect JSON (hundreds of detections take tens of kilobytes). */
    private static final long MAX_JSON_BYTES = 16L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private DetectOutputs() {}

    /**
     * Checks the outputs of all {@code images} in {@code outDir}; reads only file metadata and existing
     * {@code <stem>.json} files, writes nothing.
     *
     * @throws BadInputException naming the first problem's files (and how many more there are)
     */
    static void check(Path outDir, List<Path> images) {
        List<String> problems = new ArrayList<>();
        Map<Path, Path> inputs = new LinkedHashMap<>(); // real path -> as given
        for (Path image : images) inputs.putIfAbsent(real(image), image);

        // 1. An output that is an input.
        for (Path image : images) {
            for (Path output : outputs(outDir, image)) {
                Path input = inputs.get(real(output));
                if (input != null) {
                    problems.add(output + " would overwrite the input " + input + "; choose an --out directory "
                            + "that holds no input");
                }
            }
        }
        // 2. Two different inputs with one stem.
        Map<String, Path> byStem = new LinkedHashMap<>();
        Map<String, Path> realByStem = new LinkedHashMap<>();
        for (Path image : images) {
            String stem = DetectionOutput.stem(image);
            Path r = real(image);
            Path seen = realByStem.putIfAbsent(stem, r);
            if (seen != null && !seen.equals(r)) {
                problems.add("the inputs " + byStem.get(stem) + " and " + image + " would both write "
                        + outDir.resolve(stem + ".png") + " and " + stem + ".json; rename one or detect them into "
                        + "separate --out directories");
            }
            byStem.putIfAbsent(stem, image);
        }
        // 3. Existing files that an earlier detect did not write.
        if (problems.isEmpty()) {
            for (String stem : byStem.keySet()) {
                Path png = outDir.resolve(stem + ".png"), json = outDir.resolve(stem + ".json");
                String pngProblem = foreign(png, json, true), jsonProblem = foreign(json, json, false);
                if (jsonProblem != null) problems.add(jsonProblem);
                else if (pngProblem != null) problems.add(pngProblem);
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException("detect would overwrite a file: " + problems.get(0)
                    + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more such problems)" : ""));
        }
    }

    /** The file {@code detect --format coco} writes into its output directory. */
    static final String COCO_RESULTS = "results.json";

    /**
     * The check of {@code detect --format coco}, which writes one file, {@code outDir/}{@value #COCO_RESULTS}, a COCO
     * results list whose {@code image_id}s are the inputs' file stems read as integers (COCO's own file names:
     * {@code 000000000139.jpg} is image 139). Reads only file metadata and an existing results file, writes nothing.
     *
     * @return each input's image id, in input order (an input given twice, once)
     * @throws BadInputException naming the file: a stem that is not a non-negative integer, two different inputs with
     *     one id, a results file that is an input, a link, or an existing file that is not a COCO results list
     */
    static Map<Path, Long> checkCoco(Path outDir, List<Path> images) {
        Map<Path, Long> ids = new LinkedHashMap<>();
        Map<Long, Path> byId = new LinkedHashMap<>();
        Map<Path, Path> realOf = new LinkedHashMap<>();
        for (Path image : images) {
            Path r = real(image);
            if (realOf.putIfAbsent(r, image) != null) continue;
            String stem = DetectionOutput.stem(image);
            long id;
            try {
                if (!stem.matches("\\d{1,18}")) throw new NumberFormatException();
                id = Long.parseLong(stem);
            } catch (NumberFormatException e) {
                throw new BadInputException(image + ": --format coco needs the image id as the file name (an integer "
                        + "stem, as COCO's 000000000139.jpg), got '" + stem + "'");
            }
            Path other = byId.putIfAbsent(id, image);
            if (other != null) {
                throw new BadInputException("the inputs " + other + " and " + image + " are both image id " + id);
            }
            ids.put(image, id);
        }
        Path results = outDir.resolve(COCO_RESULTS);
        Path input = realOf.get(real(results));
        if (input != null) throw new BadInputException(results + " would overwrite the input " + input);
        if (Files.exists(results, LinkOption.NOFOLLOW_LINKS)) {
            if (Files.isSymbolicLink(results) || !Files.isRegularFile(results, LinkOption.NOFOLLOW_LINKS)
                    || !cocoResults(results)) {
                throw new BadInputException("detect would overwrite a file: " + results + " exists and is not a COCO "
                        + "results list of an earlier detect; move it or choose another --out directory");
            }
        }
        return ids;
    }

    /** Whether {@code json} holds a JSON list whose first entry, if any, has the results format's fields. */
    private static boolean cocoResults(Path json) {
        try {
            JsonNode j = JSON.readTree(json.toFile());
            if (j == null || !j.isArray()) return false;
            if (j.isEmpty()) return true;
            JsonNode e = j.get(0);
            return e.has("image_id") && e.has("category_id") && e.has("bbox") && e.has("score");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The two output files of one input. */
    private static List<Path> outputs(Path outDir, Path image) {
        String stem = DetectionOutput.stem(image);
        return List.of(outDir.resolve(stem + ".png"), outDir.resolve(stem + ".json"));
    }

    /**
     * The real path of {@code p} (links resolved) if it exists; else its parent's real path with the name (an output
     * not written yet); else the normalised absolute path.
     */
    static Path real(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException notThere) {
            Path abs = p.toAbsolutePath().normalize();
            Path parent = abs.getParent();
            try {
                return parent == null ? abs : parent.toRealPath().resolve(abs.getFileName());
            } catch (IOException noParent) {
                return abs;
            }
        }
    }

    /**
     * @param file an output that may exist
     * @param json the {@code <stem>.json} beside it
     * @param isPng whether {@code file} is the PNG (which needs our JSON beside it)
     * @return why {@code file} may not be replaced, or null if it may (absent, or an earlier detect's output)
     */
    private static String foreign(Path file, Path json, boolean isPng) {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) return null;
        if (Files.isSymbolicLink(file)) return file + " is a link; detect does not write through links";
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return file + " exists and is not a file";
        if (ours(json)) return null;
        return file + " exists and is not the output of an earlier detect" + (isPng ? " (no detect JSON " + json
                + " beside it)" : "") + "; move it or choose another --out directory";
    }

    /** Whether {@code json} is a regular file holding a detect result (the object of {@link DetectionOutput#json}). */
    private static boolean ours(Path json) {
        try {
            if (!Files.isRegularFile(json, LinkOption.NOFOLLOW_LINKS) || Files.size(json) > MAX_JSON_BYTES) return false;
            JsonNode j = JSON.readTree(json.toFile());
            return j != null && j.isObject() && j.path("image").isTextual() && j.path("width").isInt()
                    && j.path("height").isInt() && j.path("detections").isArray();
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
