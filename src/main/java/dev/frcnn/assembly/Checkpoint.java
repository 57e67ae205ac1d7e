package dev.frcnn.assembly;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.frcnn.config.Config;
import dev.frcnn.config.ConfigException;
import dev.frcnn.data.CocoCategories;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.io.WeightsFormatException;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The schema of our {@code .ckpt} checkpoints, in one typed place: what training writes ({@code best.ckpt},
 * {@code last.ckpt}), resume reads back, and the CLI and {@code dev.frcnn.api.Detector} load. The container (a zip
 * with {@code meta.json}, the tensor table and one raw entry per tensor, written atomically) is {@link Checkpoints}.
 *
 * <p>{@code meta.json} keys: {@code kind} ({@value #KIND}), {@code format} and {@code tensors} (the tensor table,
 * written by {@link Checkpoints}), {@code config} (the training config, the reference's option names),
 * {@code class_names}, {@code epoch}, {@code iteration}, {@code global_step}, {@code best_map}, {@code best_epoch},
 * {@code lr}, {@code group_lrs} when the optimizer state is saved, and {@code categories} (the COCO category ids and names
 * of the classes, {@link CocoCategories#toJson()}; absent in checkpoints written before it existed); the optimizer state is the blob
 * {@value #OPTIMIZER_BLOB} (a LibTorch archive).
 *
 * @param tensors parameter and buffer name (the reference's state_dict keys) to tensor, in file order
 * @param meta the typed metadata
 * @param optimizerState the optimizer's LibTorch archive bytes, or null (e.g. {@code best.ckpt})
 */
public record Checkpoint(Map<String, Tensor> tensors, Meta meta, byte[] optimizerState) {
    /** The {@code kind} written into meta.json. */
    public static final String KIND = "frcnn-checkpoint";
    /** The blob name under which training stores the optimizer's LibTorch archive. */
    public static final String OPTIMIZER_BLOB = Checkpoints.OPTIMIZER_BLOB;

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The typed metadata of a checkpoint.
     *
     * @param config the configuration the model was built and trained with
     * @param classNames foreground class names, label i = name i (never empty)
     * @param epoch 0-based epoch to continue from
     * @param iteration step within that epoch to continue from
     * @param globalStep training steps done in total
     * @param bestMap best test mAP so far (-1: none yet)
     * @param bestEpoch 0-based epoch of {@code bestMap} (-1: none yet)
     * @param lr the base learning rate in force
     * @param groupLrs learning rate of each optimizer parameter group, or null when the optimizer state is not saved
     * @param categories the COCO category ids of the classes (label i = category i, names = {@code classNames}) of
     *     the dataset trained on, or null (not known: a checkpoint from before the key existed); see
     *     {@link #categoriesOrNumbered()}
     */
    public record Meta(Config config, List<String> classNames, int epoch, int iteration, long globalStep,
                       double bestMap, int bestEpoch, double lr, double[] groupLrs, CocoCategories categories) {
        /**
         * @throws IllegalArgumentException if config is null, there are no class names, or the categories' names are
         *     not the class names
         */
        public Meta {
            if (config == null) throw new IllegalArgumentException("a checkpoint needs its config");
            if (classNames == null || classNames.isEmpty()) {
                throw new IllegalArgumentException("a checkpoint needs at least one class name");
            }
            classNames = List.copyOf(classNames);
            groupLrs = groupLrs == null ? null : groupLrs.clone();
            if (categories != null && !categories.names().equals(classNames)) {
                throw new IllegalArgumentException("the categories' names " + categories.names()
                        + " are not the class names " + classNames);
            }
        }

        /** Metadata without categories ({@link #categoriesOrNumbered()} numbers the classes 1..K). */
        public Meta(Config config, List<String> classNames, int epoch, int iteration, long globalStep,
                    double bestMap, int bestEpoch, double lr, double[] groupLrs) {
            this(config, classNames, epoch, iteration, globalStep, bestMap, bestEpoch, lr, groupLrs, null);
        }

        /**
         * The classes' COCO category ids and names: {@link #categories()}, or without them ids 1..K in class order
         * ({@link CocoCategories#numbered}, the ids {@code bin/frcnn convert} gives a VOC dataset's classes).
         */
        public CocoCategories categoriesOrNumbered() {
            return categories != null ? categories : CocoCategories.numbered(classNames);
        }

        /** @return the meta.json object (without {@code format} and {@code tensors}, which {@link Checkpoints} adds) */
        public ObjectNode toJson() {
            ObjectNode m = JSON.createObjectNode();
            m.put("kind", KIND);
            try {
                m.set("config", JSON.readTree(config.toJson()));
            } catch (IOException e) {
                throw new IllegalStateException("config does not serialise: " + e.getMessage(), e);
            }
            m.set("class_names", JSON.valueToTree(classNames));
            m.put("epoch", epoch);
            m.put("iteration", iteration);
            m.put("global_step", globalStep);
            m.put("best_map", bestMap);
            m.put("best_epoch", bestEpoch);
            m.put("lr", lr);
            if (groupLrs != null) m.set("group_lrs", JSON.valueToTree(groupLrs));
            if (categories != null) {
                try {
                    m.set("categories", JSON.readTree(categories.toJson()));
                } catch (IOException e) {
                    throw new IllegalStateException("categories do not serialise: " + e.getMessage(), e);
                }
            }
            return m;
        }

        /**
         * Parses a checkpoint's meta.json.
         *
         * @param file the checkpoint (named in errors)
         * @param m its meta.json object
         * @return the typed metadata
         * @throws WeightsFormatException if the config is missing or invalid, there are no class names, or the
         *     {@code categories} (optional) are malformed or name other classes
         */
        public static Meta fromJson(Path file, JsonNode m) throws WeightsFormatException {
            if (m == null || !m.path("config").isObject()) throw new WeightsFormatException(file, "checkpoint has no config");
            Config cfg;
            try {
                cfg = Config.fromJson(m.get("config"));
            } catch (ConfigException e) {
                throw new WeightsFormatException(file, "checkpoint config is invalid: " + e.getMessage());
            }
            List<String> names = new ArrayList<>();
            for (JsonNode n : m.path("class_names")) names.add(n.asText());
            if (names.isEmpty()) throw new WeightsFormatException(file, "checkpoint has no class names");
            double[] lrs = m.path("group_lrs").isArray() ? JSON.convertValue(m.get("group_lrs"), double[].class) : null;
            CocoCategories cats = null;
            if (m.has("categories") && !m.get("categories").isNull()) {
                try {
                    cats = CocoCategories.fromJson(m.get("categories").toString());
                } catch (IllegalArgumentException e) {
                    throw new WeightsFormatException(file, "checkpoint categories are invalid: " + e.getMessage());
                }
                if (!cats.names().equals(names)) {
                    throw new WeightsFormatException(file, "checkpoint categories " + cats.names()
                            + " are not its class names " + names);
                }
            }
            return new Meta(cfg, names, m.path("epoch").asInt(), m.path("iteration").asInt(),
                    m.path("global_step").asLong(), m.path("best_map").asDouble(-1), m.path("best_epoch").asInt(-1),
                    m.path("lr").asDouble(cfg.lr()), lrs, cats);
        }
    }

    /**
     * Writes the checkpoint atomically ({@link Checkpoints#save(Path, Map, ObjectNode, Map)}).
     *
     * @throws IOException when the file cannot be written (the previous file, if any, is left intact)
     */
    public void save(Path file) throws IOException {
        Map<String, byte[]> blobs = optimizerState == null ? Map.of() : Map.of(OPTIMIZER_BLOB, optimizerState);
        Checkpoints.save(file, tensors, meta.toJson(), blobs);
    }

    /**
     * Reads a checkpoint with its typed metadata.
     *
     * @throws WeightsFormatException if the file is not a readable checkpoint or its metadata is invalid
     * @throws IOException if the file cannot be read
     */
    public static Checkpoint load(Path file) throws IOException {
        Checkpoints.Loaded c = Checkpoints.load(file);
        return new Checkpoint(new LinkedHashMap<>(c.tensors()), Meta.fromJson(file, c.meta()), c.blobs().get(OPTIMIZER_BLOB));
    }
}
