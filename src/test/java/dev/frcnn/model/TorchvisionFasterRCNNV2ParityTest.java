package dev.frcnn.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.io.StateDictFiles;
import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.model.backbone.FrozenBatchNorm2d;
import dev.frcnn.model.backbone.ResNetFPNBackbone;
import dev.frcnn.model.roi.FastRCNNConvFCHead;
import dev.frcnn.tensor.Precision;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TvFpnFixture;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * {@link TorchvisionFasterRCNN#resnet50FpnV2} against torchvision 0.14's {@code fasterrcnn_resnet50_fpn_v2}
 * ({@code tv_fpn_keys.json}, {@code params.fasterrcnn_resnet50_fpn_v2}: torchvision's state_dict keys in order, with
 * shapes and dtypes): the same 404 keys in the same order, shapes and dtypes; a state dict of that layout (random
 * values) loads with or without its {@code num_batches_tracked} entries; a mismatch names the source, the keys and
 * the shapes. The detections against torchvision's own are a one-off check ({@code docs/torchvision.md}).
 */
class TorchvisionFasterRCNNV2ParityTest {
    private static final String LAYOUT = "fasterrcnn_resnet50_fpn_v2";

    private static JsonNode layout;
    private static TorchvisionFasterRCNN model;

    @BeforeAll
    static void build() {
        layout = Golden.load(TvFpnFixture.KEYS).params().get(LAYOUT);
        model = v2(TorchvisionCocoCategories.FOREGROUND);
    }

    private static TorchvisionFasterRCNN v2(List<String> classNames) {
        return TorchvisionFasterRCNN.resnet50FpnV2(new GeneralizedRCNNTransform(), classNames,
                FrozenBatchNorm2d.DEFAULT_EPS, ResNetFPNBackbone.DEFAULT_TRAINABLE_LAYERS, Precision.FP32);
    }

    private static long[] shape(JsonNode entry) {
        long[] shape = new long[entry.get(1).size()];
        for (int i = 0; i < shape.length; i++) shape[i] = entry.get(1).get(i).asLong();
        return shape;
    }

    /** A state dict of the fixture's layout: float32 entries randn, int64 ({@code num_batches_tracked}) 7. */
    private static Map<String, Tensor> randomStateDict() {
        Map<String, Tensor> sd = new LinkedHashMap<>();
        for (JsonNode e : layout) {
            String dtype = e.get(2).asText();
            sd.put(e.get(0).asText(), dtype.equals("int64")
                    ? zeros(shape(e), new TensorOptions(ScalarType.Long)).fill_(new Scalar(7L))
                    : randn(shape(e)));
        }
        return sd;
    }

    @Test
    void stateDictKeysAndShapesAreTorchvisions() {
        List<String> keys = new ArrayList<>();
        for (JsonNode e : layout) keys.add(e.get(0).asText());
        assertThat(keys).hasSize(Golden.load(TvFpnFixture.KEYS).params().get("counts").get("v2").asInt());
        assertThat(model.stateDictKeys()).containsExactlyElementsOf(keys);
        Map<String, Tensor> targets = TvFpnFixture.targets(model, "");
        long numel = 0;
        for (JsonNode e : layout) {
            String k = e.get(0).asText();
            Tensor t = targets.get(k);
            assertThat(Tensors.shape(t)).as(k).isEqualTo(shape(e));
            assertThat(Tensors.isType(t, e.get(2).asText().equals("int64") ? ScalarType.Long : ScalarType.Float))
                    .as(k + " " + e.get(2).asText()).isTrue();
            numel += t.numel();
        }
        assertThat(numel).isEqualTo(Golden.load(TvFpnFixture.KEYS).params().get("counts").get("v2_numel").asLong());
        assertThat(model.variant()).isEqualTo(TorchvisionVariant.RESNET50_FPN_V2);
        assertThat(model.rpn().head().convDepth()).isEqualTo(2);
        assertThat(model.roiHeads().boxHead()).isInstanceOf(FastRCNNConvFCHead.class);
        assertThat(model.roiHeads().boxHead().representationSize()).isEqualTo(1024);
    }

    @Test
    void aV2StateDictLoadsWithOrWithoutNumBatchesTracked() {
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> sd = randomStateDict();
            model.loadStateDict(sd, "in-memory");
            Map<String, Tensor> targets = TvFpnFixture.targets(model, "");
            for (String k : List.of("backbone.body.layer4.2.bn3.running_var", "backbone.fpn.inner_blocks.3.1.weight",
                    "rpn.head.conv.1.0.weight", "roi_heads.box_head.3.1.running_mean", "roi_heads.box_head.5.weight",
                    "roi_heads.box_predictor.cls_score.weight", "backbone.fpn.layer_blocks.0.1.num_batches_tracked")) {
                assertThat(targets.get(k).equal(sd.get(k))).as(k).isTrue();
            }

            // without any num_batches_tracked (as a body saved from torchvision's FrozenBatchNorm2d, or stripped)
            Map<String, Tensor> stripped = randomStateDict();
            stripped.keySet().removeIf(k -> k.endsWith("num_batches_tracked"));
            assertThat(stripped).hasSize(404 - 65);
            model.loadStateDict(stripped, "in-memory");
            targets = TvFpnFixture.targets(model, "");
            assertThat(targets.get("roi_heads.box_head.5.weight").equal(stripped.get("roi_heads.box_head.5.weight")))
                    .isTrue();
            assertThat(targets.get("backbone.fpn.layer_blocks.0.1.num_batches_tracked").item_long()).as("kept").isEqualTo(7);
        }
    }

    @Test
    void aMismatchNamesTheSourceTheKeysAndTheShapes() {
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> sd = randomStateDict();
            sd.put("roi_heads.box_head.5.weight", randn(1024, 256 * 7 * 7 + 1));
            sd.remove("backbone.fpn.inner_blocks.2.1.running_var");
            sd.put("roi_heads.box_head.fc6.weight", randn(1024, 12544)); // v1's box head in a v2 file
            assertThatThrownBy(() -> model.loadStateDict(sd, "v2.pth"))
                    .isInstanceOf(WeightsMismatchException.class)
                    .hasMessageContaining("v2.pth")
                    .hasMessageContaining("ResNet-50 FPN v2")
                    .hasMessageContaining("roi_heads.box_head.5.weight: copying a param with shape [1024, 12545]")
                    .hasMessageContaining("[1024, 12544]")
                    .hasMessageContaining("backbone.fpn.inner_blocks.2.1.running_var")
                    .hasMessageContaining("roi_heads.box_head.fc6.weight");
        }
    }

    @Test
    void aV1FileNamesTheV2KeysItLacks(@TempDir Path dir) throws Exception {
        Path file = StateDictFiles.write(dir.resolve("v1.pth"), List.of("rpn.head.conv.0.0.weight",
                "roi_heads.box_head.fc6.weight"));
        assertThatThrownBy(() -> model.load(file))
                .isInstanceOf(WeightsMismatchException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("rpn.head.conv.1.0.weight")
                .hasMessageContaining("roi_heads.box_head.fc6.weight")
                .hasMessageContaining("rpn.head.conv.0.0.weight: copying a param with shape [1]")
                .hasMessageContaining("[256, 256, 3, 3]");
    }

    @Test
    void v2RefusesTraining() {
        model.train(true);
        try {
            assertThatThrownBy(() -> model.trainingForward(List.of(randn(3, 64, 64)), List.of(randn(1, 4))))
                    .isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("fasterrcnn_resnet50_fpn_v2").hasMessageContaining("inference only");
        } finally {
            model.train(false);
        }
    }
}
