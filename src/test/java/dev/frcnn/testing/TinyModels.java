package dev.frcnn.testing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.model.FasterRCNN;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tests' small detector: the demo's backbone ({@code backbone=tiny}) and, unless a method says otherwise, its
 * anchor scales ({@code anchor_scales=[2,4,8]}), at one of the input sizes in {@link Size}. As config settings
 * ({@code key=value}, for {@code --set} or {@link Config#withOverrides}), as a {@link Config}, as a model with random
 * weights from a fixed seed, or as such a model saved as our {@code .ckpt}.
 *
 * <p>Settings come in the order backbone, {@code min_size}, {@code max_size}, anchor scales, then the caller's own
 * (a test's class names go last, e.g. {@link #SHAPE_CLASSES}).
 */
public final class TinyModels {
    private TinyModels() {}

    /** The setting that selects the demo's backbone. */
    public static final String BACKBONE = "backbone=tiny";

    /** The demo's anchor scales ({@code configs/demo.json}): its objects are small. */
    public static final String ANCHOR_SCALES = "anchor_scales=[2,4,8]";

    /** {@code class_names} of the demo's four shapes ({@link SyntheticVoc#CLASS_NAMES}), as JSON. */
    public static final String SHAPE_CLASSES = classNames(SyntheticVoc.CLASS_NAMES);

    /** Two of the demo's shapes, for a detector whose class count differs from the data's. */
    public static final List<String> TWO_SHAPES = List.of("circle", "square");

    /** The input sizes the tests train and predict at: {@code min_size} (shorter side) and {@code max_size} (pixels). */
    public enum Size {
        /** 96 / 128: the quickest training runs, on 96 x 128 synthetic images. */
        SMALL(96, 128),
        /** 128 / 192. */
        MEDIUM(128, 192),
        /** 192 / 320: the demo's ({@code configs/demo.json}). */
        DEMO(192, 320);

        /** {@code min_size} and {@code max_size} in pixels. */
        public final int minSize, maxSize;

        Size(int minSize, int maxSize) {
            this.minSize = minSize;
            this.maxSize = maxSize;
        }

        /** @return {@code min_size=...}, {@code max_size=...} */
        public List<String> settings() {
            return List.of("min_size=" + minSize, "max_size=" + maxSize);
        }
    }

    /**
     * @param size the input size
     * @param more further settings, appended
     * @return {@link #BACKBONE}, the size, {@link #ANCHOR_SCALES}, then {@code more} (a new mutable list)
     */
    public static List<String> settings(Size size, String... more) {
        List<String> s = new ArrayList<>();
        s.add(BACKBONE);
        s.addAll(size.settings());
        s.add(ANCHOR_SCALES);
        s.addAll(List.of(more));
        return s;
    }

    /**
     * @return {@link #BACKBONE}, the size, then {@code more}: the default anchor scales (8, 16, 32), as some tests'
     * models were made (a new mutable list)
     */
    public static List<String> settingsWithDefaultAnchors(Size size, String... more) {
        List<String> s = new ArrayList<>();
        s.add(BACKBONE);
        s.addAll(size.settings());
        s.addAll(List.of(more));
        return s;
    }

    /**
     * @return the defaults with {@link #settings(Size, String...)}
     * @throws dev.frcnn.config.ConfigException if a setting in {@code more} is invalid
     */
    public static Config config(Size size, String... more) {
        return Config.defaults().withOverrides(settings(size, more));
    }

    /** @return the defaults with {@link #settingsWithDefaultAnchors(Size, String...)} */
    public static Config configWithDefaultAnchors(Size size, String... more) {
        return Config.defaults().withOverrides(settingsWithDefaultAnchors(size, more));
    }

    /**
     * @param more further settings after {@link #BACKBONE}
     * @return the defaults with the demo's backbone and {@code more}: every other key (sizes 600 / 1000, anchor
     * scales 8, 16, 32) is the default
     */
    public static Config config(String... more) {
        List<String> s = new ArrayList<>(List.of(BACKBONE));
        s.addAll(List.of(more));
        return Config.defaults().withOverrides(s);
    }

    /** @return {@code class_names=[...]}, the names as a JSON array */
    public static String classNames(List<String> names) {
        try {
            return "class_names=" + new ObjectMapper().writeValueAsString(names);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return {@code --set s} for each setting, in order (a new mutable list) */
    public static List<String> setOptions(List<String> settings) {
        List<String> args = new ArrayList<>();
        for (String s : settings) {
            args.add("--set");
            args.add(s);
        }
        return args;
    }

    /**
     * A detector of {@code cfg} whose weights are random from seed 0 ({@code manual_seed(0)}, then
     * {@link Detectors#create}): the same weights on every run. Any config, not only the tiny one.
     *
     * @return the model, in training mode as created; the caller closes it
     */
    public static FasterRCNN randomDetector(Config cfg, List<String> classNames) {
        torch.manual_seed(0);
        return Detectors.create(cfg, classNames);
    }

    /**
     * Saves {@link #randomDetector} of {@code cfg} as our checkpoint ({@link Checkpoint}: its parameters and
     * buffers, meta with {@code cfg}, {@code classNames}, epoch 0, no best mAP, {@code cfg}'s lr, no optimizer state).
     *
     * @return file
     * @throws IOException if the file cannot be written
     */
    @SuppressWarnings("try")
    public static Path checkpoint(Path file, Config cfg, List<String> classNames) throws IOException {
        FasterRCNN m = randomDetector(cfg, classNames);
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            StringTensorDict p = m.named_parameters(true), b = m.named_buffers(true);
            for (long i = 0; i < p.size(); i++) t.put(p.get(i).key().getString(), p.get(i).value());
            for (long i = 0; i < b.size(); i++) t.put(b.get(i).key().getString(), b.get(i).value());
            new Checkpoint(t, new Checkpoint.Meta(cfg, classNames, 0, 0, 0, -1, -1, cfg.lr(), null), null).save(file);
        } finally {
            m.close();
        }
        return file;
    }

    /**
     * {@link #checkpoint(Path, Config, List)} of {@link #config(Size, String...)} at {@code size} with
     * {@code classNames} in its config too.
     */
    public static Path checkpoint(Path file, Size size, List<String> classNames) throws IOException {
        return checkpoint(file, config(size, classNames(classNames)), classNames);
    }
}
