package dev.frcnn.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.model.backbone.Backbones;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.frcnn.io.TorchFileWriter.floatsLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link ModelWeights#read} tells the weight formats apart; the {@link Backbones} entry of the configured backbone
 * renames backbone-only files to the model's keys.
 */
class ModelWeightsTest {
    @TempDir
    Path dir;

    /** A zip .pth holding an OrderedDict of 1-element float tensors with these keys (values 0, 1, 2, ...). */
    private Path pth(String name, List<String> keys, String wrapInModelKey) throws IOException {
        PickleBuilder p = new PickleBuilder().proto(2);
        if (wrapInModelKey != null) p.emptyDict().str(wrapInModelKey);
        p.orderedDict().mark();
        Map<String, byte[]> storages = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i++) {
            p.str(keys.get(i)).tensor("FloatStorage", String.valueOf(i), 1, 0, new long[]{1}, new long[]{1}, false);
            storages.put(String.valueOf(i), floatsLE(i));
        }
        p.setitems();
        if (wrapInModelKey != null) p.setitem();
        return TorchFileWriter.writeZip(dir.resolve(name), p.stop().toBytes(), storages, "little");
    }

    @Test
    void torchvisionVgg16IsRenamedToTheReferenceKeys() throws IOException {
        try (PointerScope s = new PointerScope()) {
            Path f = pth("vgg16.pth", List.of("features.0.weight", "features.28.bias", "classifier.0.weight",
                    "classifier.3.bias", "classifier.6.weight"), null);
            ModelWeights.Loaded w = ModelWeights.read(f);
            assertThat(w.kind()).isEqualTo(ModelWeights.Kind.PRETRAINED_BACKBONE);
            assertThat(w.kind().backboneOnly()).isTrue();
            assertThat(w.stateDict().keySet()).containsExactly("features.0.weight", "features.28.bias",
                    "classifier.0.weight", "classifier.3.bias", "classifier.6.weight");
            Map<String, Tensor> renamed = Backbones.get("vgg16").toModel(w.stateDict(), f.toString());
            assertThat(renamed.keySet()).containsExactly("extractor.0.weight", "extractor.28.bias",
                    "head.classifier.0.weight", "head.classifier.2.bias");
            assertThat(Tensors.toFloatArray(renamed.get("head.classifier.2.bias"))).containsExactly(3f);
            assertThat(w.meta()).isNull();
        }
    }

    @Test
    void torchvisionResNetIsRenamedAndFcDropped() throws IOException {
        try (PointerScope s = new PointerScope()) {
            Path f = pth("r50.pth", List.of("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight",
                    "layer4.0.bn1.weight", "fc.weight", "fc.bias"), null);
            ModelWeights.Loaded w = ModelWeights.read(f);
            assertThat(w.kind()).isEqualTo(ModelWeights.Kind.PRETRAINED_BACKBONE);
            assertThat(w.kind().backboneOnly()).isTrue();
            assertThat(Backbones.get("resnet50").toModel(w.stateDict(), f.toString()).keySet()).containsExactly("extractor.conv1.weight", "extractor.bn1.running_mean",
                    "extractor.layer1.0.conv1.weight", "head.classifier.layer4.0.bn1.weight");
        }
    }

    @Test
    void referenceCheckpointGivesItsModelEntry() throws IOException {
        try (PointerScope s = new PointerScope()) {
            Path f = pth("ref.pth", List.of("extractor.0.weight", "rpn.conv1.weight", "head.score.bias"), "model");
            ModelWeights.Loaded w = ModelWeights.read(f);
            assertThat(w.kind()).isEqualTo(ModelWeights.Kind.DETECTOR_STATE_DICT);
            assertThat(w.kind().backboneOnly()).isFalse();
            assertThat(w.stateDict().keySet()).containsExactly("extractor.0.weight", "rpn.conv1.weight", "head.score.bias");
        }
    }

    @Test
    void ourCheckpointCarriesItsMetaAndOptimizerState() throws IOException {
        try (PointerScope s = new PointerScope()) {
            Path f = dir.resolve("a.ckpt");
            Map<String, Tensor> t = new LinkedHashMap<>();
            t.put("rpn.score.bias", Tensors.fromFloats(new float[]{1, 2}, 2));
            Checkpoints.save(f, t, new ObjectMapper().createObjectNode().put("epoch", 4),
                    Map.of(ModelWeights.OPTIMIZER_BLOB, new byte[]{9}));
            ModelWeights.Loaded w = ModelWeights.read(f);
            assertThat(w.kind()).isEqualTo(ModelWeights.Kind.CHECKPOINT);
            assertThat(w.meta().get("epoch").asInt()).isEqualTo(4);
            assertThat(w.optimizerArchive()).containsExactly(9);
            assertThat(Tensors.toFloatArray(w.stateDict().get("rpn.score.bias"))).containsExactly(1f, 2f);
        }
    }

    @Test
    void missingAndForeignFilesAreReported() throws IOException {
        assertThatThrownBy(() -> ModelWeights.read(dir.resolve("none.pth"))).isInstanceOf(NoSuchFileException.class);
        Path txt = dir.resolve("notes.pth");
        java.nio.file.Files.writeString(txt, "hello");
        assertThatThrownBy(() -> ModelWeights.read(txt)).isInstanceOf(WeightsFormatException.class).hasMessageContaining("notes.pth");
    }
}
