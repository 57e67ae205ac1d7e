package dev.frcnn.io;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Tensor;

import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads detector weights from any supported file, as {@code --weights} accepts them: our {@code .ckpt}
 * checkpoints ({@link Checkpoints}), and PyTorch {@code .pth} files ({@link PthReader}): the reference's
 * trained checkpoints (a dict whose {@code model} entry is the state dict), a plain Faster R-CNN state dict
 * (every key under {@code extractor.}, {@code rpn.} or {@code head.}), or any other state dict, which is taken
 * as a backbone's pretrained weights (e.g. torchvision's {@code vgg16()}, the caffe-converted
 * {@code vgg16_caffe.pth}, {@code resnet50()}, {@code squeezenet1_1()}) and kept with the file's own keys: which
 * backbone they are for, and so how they are renamed, is the config's {@code backbone}
 * ({@code dev.frcnn.assembly.Detectors#load}; torchvision's VGG16 and SqueezeNet files share their key prefixes, so
 * the keys alone cannot tell). With backbone-only weights the RPN and the new layers stay as initialised.
 */
public final class ModelWeights {
    private ModelWeights() {}

    static {
        dev.frcnn.tensor.NativeLibraries.ensureExtracted(); // before the first org.bytedeco.pytorch class loads
    }

    /** Where the weights came from. */
    public enum Kind {
        /** Our {@code .ckpt}: the meta holds config, class names, epoch, best mAP. */
        CHECKPOINT,
        /** A PyTorch file with Faster R-CNN keys (reference checkpoint or plain state dict). */
        DETECTOR_STATE_DICT,
        /** A backbone's pretrained state dict (e.g. torchvision ImageNet weights), with the file's own keys. */
        PRETRAINED_BACKBONE;

        /** True for backbone-only weights: the RPN and the last layers stay as initialised, so loading is not strict. */
        public boolean backboneOnly() {
            return this == PRETRAINED_BACKBONE;
        }
    }

    /**
     * @param stateDict parameter/buffer name (the reference's keys) to CPU tensor
     * @param meta the checkpoint's metadata, or null for PyTorch files (typed by {@code dev.frcnn.assembly.Checkpoint.Meta#fromJson})
     * @param kind the file's kind
     * @param optimizerArchive the optimizer state blob of a checkpoint, or null
     */
    public record Loaded(Map<String, Tensor> stateDict, ObjectNode meta, Kind kind, byte[] optimizerArchive) {}

    /** The blob name under which training stores the optimizer's LibTorch archive ({@link Checkpoints#OPTIMIZER_BLOB}). */
    public static final String OPTIMIZER_BLOB = Checkpoints.OPTIMIZER_BLOB;

    /**
     * @throws NoSuchFileException if the file does not exist
     * @throws WeightsFormatException if it is neither a checkpoint nor a readable PyTorch file
     * @throws IOException on read errors
     */
    public static Loaded read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString());
        if (isCheckpoint(file)) {
            Checkpoints.Loaded c = Checkpoints.load(file);
            return new Loaded(c.tensors(), c.meta(), Kind.CHECKPOINT, c.blobs().get(OPTIMIZER_BLOB));
        }
        Map<String, Tensor> sd = StateDicts.stateDict(PthReader.read(file), file);
        boolean detector = sd.keySet().stream().allMatch(k -> k.startsWith("extractor.") || k.startsWith("rpn.")
                || k.startsWith("head."));
        return new Loaded(new LinkedHashMap<>(sd), null, detector ? Kind.DETECTOR_STATE_DICT : Kind.PRETRAINED_BACKBONE,
                null);
    }

    /**
     * For messages about a backbone-only state dict: the {@code backbone} whose torchvision layout its keys show
     * (SqueezeNet's Fire modules, ResNet-101's 23 layer3 blocks, ResNet-50's layer4, VGG16's 13th convolution), when
     * they show one. (Loading does not guess: it renames by the configured backbone.)
     *
     * @param stateDict the file's keys and tensors
     * @return e.g. {@code "squeezenet1_1"}, or null
     */
    public static String guessBackbone(Map<String, Tensor> stateDict) {
        java.util.Set<String> keys = stateDict.keySet();
        if (keys.stream().anyMatch(k -> k.contains(".squeeze."))) return "squeezenet1_1";
        if (keys.contains("layer3.22.conv1.weight")) return "resnet101";
        if (keys.contains("layer4.0.conv1.weight")) return "resnet50";
        if (keys.contains("features.28.weight")) return "vgg16";
        return null;
    }

    /**
     * Whether a file is one of our checkpoints (a zip with {@code meta.json}); reads the zip directory only.
     *
     * @param file any file
     * @return true for a {@code .ckpt} checkpoint, false for anything else (a PyTorch file, garbage)
     * @throws IOException if the file cannot be read
     */
    public static boolean isCheckpoint(Path file) throws IOException {
        if (!Files.isRegularFile(file)) return false;
        try (ZipFile zf = new ZipFile(file.toFile())) {
            return zf.getEntry("meta.json") != null;
        } catch (ZipException | EOFException e) {
            return false;
        }
    }
}
