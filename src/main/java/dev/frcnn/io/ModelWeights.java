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
 * trained checkpoints (a dict whose {@code model} entry is the state dict), a plain Faster R-CNN state dict,
 * a torchvision {@code vgg16()} / caffe-converted {@code vgg16_caffe.pth} state dict (renamed to the
 * reference's {@code extractor.*} / {@code head.classifier.*} keys), or a torchvision {@code resnet50()} /
 * {@code resnet101()} state dict ({@link ResNetKeys}); with backbone-only weights the RPN and the last layers stay
 * as initialised.
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
        /** A torchvision VGG16 state dict (backbone only). */
        TORCHVISION_VGG16,
        /** A torchvision ResNet-50/101 state dict (backbone only; {@code fc} dropped). */
        TORCHVISION_RESNET;

        /** True for backbone-only weights: the RPN and the last layers stay as initialised, so loading is not strict. */
        public boolean backboneOnly() {
            return this == TORCHVISION_VGG16 || this == TORCHVISION_RESNET;
        }
    }

    /**
     * @param stateDict parameter/buffer name (the reference's keys) to CPU tensor
     * @param meta the checkpoint's metadata, or null for PyTorch files (typed: {@link Checkpoint.Meta#fromJson})
     * @param kind the file's kind
     * @param optimizerArchive the optimizer state blob of a checkpoint, or null
     */
    public record Loaded(Map<String, Tensor> stateDict, ObjectNode meta, Kind kind, byte[] optimizerArchive) {}

    /** The blob name under which training stores the optimizer's LibTorch archive ({@link Checkpoint#OPTIMIZER_BLOB}). */
    public static final String OPTIMIZER_BLOB = Checkpoint.OPTIMIZER_BLOB;

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
        boolean torchvision = !sd.isEmpty() && sd.keySet().stream().allMatch(k -> k.startsWith("features.") || k.startsWith("classifier."));
        if (torchvision) {
            return new Loaded(StateDicts.vgg16ToReference(sd), null, Kind.TORCHVISION_VGG16, null);
        }
        if (ResNetKeys.isTorchvisionResNet(sd)) {
            return new Loaded(ResNetKeys.torchvisionToModel(sd), null, Kind.TORCHVISION_RESNET, null);
        }
        return new Loaded(new LinkedHashMap<>(sd), null, Kind.DETECTOR_STATE_DICT, null);
    }

    private static boolean isCheckpoint(Path file) throws IOException {
        try (ZipFile zf = new ZipFile(file.toFile())) {
            return zf.getEntry("meta.json") != null;
        } catch (ZipException | EOFException e) {
            return false;
        }
    }
}
