package dev.frcnn.model.backbone;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.io.ResNetKeys;
import dev.frcnn.io.WeightLoader;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.roi.RoIHead;
import dev.frcnn.model.roi.RoIOperator;
import dev.frcnn.model.roi.RoIOperators;
import dev.frcnn.model.roi.VGG16RoIHead;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * Structure of the ResNet-C4 detector: torchvision key mapping ({@code resnet_keys.json}, ResNet-50 and -101),
 * block counts, frozen layers and BatchNorm that keeps using running statistics in training mode.
 */
class ResNetC4BackboneTest {
    private static final Pattern BLOCK = Pattern.compile("(layer[1-4])\\.(\\d+)\\..*");

    private static FasterRCNN detector(String backbone) {
        Config cfg = Config.defaults().withOverrides(List.of("backbone=" + backbone, "roi_op=roi_align"));
        return Detectors.create(cfg, FasterRCNN.VOC_BBOX_LABEL_NAMES);
    }

    private record Info(long[] shape, boolean isLong) {}

    /** name to (shape, dtype) of every parameter and buffer, in module order (parameters first). */
    private static Map<String, Info> stateInfo(Module m) {
        Map<String, Info> out = new LinkedHashMap<>();
        StringTensorDict p = m.named_parameters(true);
        for (long i = 0; i < p.size(); i++) {
            Tensor t = p.get(i).value();
            out.put(p.get(i).key().getString(), new Info(Tensors.shape(t), Tensors.isType(t, ScalarType.Long)));
        }
        StringTensorDict b = m.named_buffers(true);
        for (long i = 0; i < b.size(); i++) {
            Tensor t = b.get(i).value();
            out.put(b.get(i).key().getString(), new Info(Tensors.shape(t), Tensors.isType(t, ScalarType.Long)));
        }
        return out;
    }

    private static List<String> modelNames(Golden g) {
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = g.params().path("models").fieldNames(); it.hasNext(); ) names.add(it.next());
        assertThat(names).as("resnet_keys.json models").isNotEmpty();
        return names;
    }

    private static long[] shapeOf(JsonNode entry) {
        JsonNode s = entry.get("shape");
        long[] shape = new long[s.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = s.get(i).asLong();
        return shape;
    }

    @Test
    void torchvisionKeysAndShapesMapOntoTheDetector() {
        Golden g = Golden.load("resnet_keys.json");
        for (String name : modelNames(g)) {
            try (PointerScope s = new PointerScope()) {
                FasterRCNN model = detector(name);
                Map<String, Info> info = stateInfo(model);
                List<String> mappedInOrder = new ArrayList<>();
                Map<String, Tensor> sd = new LinkedHashMap<>();
                for (JsonNode e : g.params().path("models").path(name)) {
                    String key = e.get("key").asText();
                    long[] shape = shapeOf(e);
                    boolean isLong = e.get("dtype").asText().equals("int64");
                    Optional<String> mapped = ResNetKeys.torchvisionToModel(key);
                    if (mapped.isEmpty()) {
                        assertThat(key).as(name + " dropped key").startsWith("fc.");
                        continue;
                    }
                    Info mi = info.get(mapped.get());
                    assertThat(mi).as(name + ": model tensor for " + key + " -> " + mapped.get()).isNotNull();
                    assertThat(mi.shape()).as(name + " shape of " + key).containsExactly(shape);
                    assertThat(mi.isLong()).as(name + " dtype of " + key).isEqualTo(isLong);
                    assertThat(ResNetKeys.modelToTorchvision(mapped.get())).contains(key);
                    mappedInOrder.add(mapped.get());
                    sd.put(key, isLong ? zeros(shape, new TensorOptions(ScalarType.Long)) : zeros(shape));
                }
                // every backbone tensor of the model comes from exactly one torchvision key, in torchvision's order
                List<String> params = new ArrayList<>(), buffers = new ArrayList<>();
                for (String k : info.keySet()) {
                    if (k.startsWith("rpn.") || k.startsWith("head.cls_loc.") || k.startsWith("head.score.")) {
                        assertThat(ResNetKeys.modelToTorchvision(k)).isEmpty();
                        continue;
                    }
                    assertThat(ResNetKeys.modelToTorchvision(k)).as(name + ": " + k + " has a torchvision key").isPresent();
                    (k.endsWith("running_mean") || k.endsWith("running_var") || k.endsWith("num_batches_tracked")
                            ? buffers : params).add(k);
                }
                assertThat(params.size() + buffers.size()).isEqualTo(mappedInOrder.size());
                assertThat(mappedInOrder.stream().filter(params::contains).toList()).isEqualTo(params);
                assertThat(mappedInOrder.stream().filter(buffers::contains).toList()).isEqualTo(buffers);

                // a torchvision state dict loads through the mapping; only the detector's own layers are missing
                sd.get("layer4.2.bn3.running_var").fill_(new Scalar(7.0));
                sd.get("conv1.weight").fill_(new Scalar(0.25));
                WeightLoader.LoadResult r = WeightLoader.load(model, Backbones.get("resnet50").toModel(sd, "resnet.pth"), false);
                assertThat(r.unexpectedKeys()).isEmpty();
                assertThat(r.missingKeys()).allMatch(k -> k.startsWith("rpn.") || k.startsWith("head.cls_loc.")
                        || k.startsWith("head.score."));
                StringTensorDict mb = model.named_buffers(true), mp = model.named_parameters(true);
                assertThat(mb.get("head.classifier.layer4.2.bn3.running_var").min().item_float()).isEqualTo(7.0f);
                assertThat(mp.get("extractor.conv1.weight").max().item_float()).isEqualTo(0.25f);
            }
        }
    }

    @Test
    void blockCountsFollowTheKeyLists() {
        Golden g = Golden.load("resnet_keys.json");
        for (String name : modelNames(g)) {
            Map<String, TreeSet<Integer>> blocks = new LinkedHashMap<>();
            for (JsonNode e : g.params().path("models").path(name)) {
                Matcher m = BLOCK.matcher(e.get("key").asText());
                if (m.matches()) blocks.computeIfAbsent(m.group(1), k -> new TreeSet<>()).add(Integer.parseInt(m.group(2)));
            }
            int[] expected = new int[4];
            for (int i = 0; i < 4; i++) expected[i] = blocks.get("layer" + (i + 1)).size();
            ResNetC4Backbone.Depth depth = ResNetC4Backbone.Depth.fromName(name);
            assertThat(depth.blocks()).as(name).containsExactly(expected);
            try (PointerScope s = new PointerScope()) {
                ResNetC4Backbone b = new ResNetC4Backbone(depth);
                int[] built = {b.trunk().layer(1).size(), b.trunk().layer(2).size(), b.trunk().layer(3).size(),
                        b.top().layer4().size()};
                assertThat(built).as(name + " built blocks").containsExactly(expected);
            }
        }
        assertThat(ResNetC4Backbone.Depth.RESNET101.blocks()).containsExactly(3, 4, 23, 3);
        assertThat(ResNetC4Backbone.Depth.RESNET50.blocks()).containsExactly(3, 4, 6, 3);
        assertThatThrownBy(() -> ResNetC4Backbone.Depth.fromName("resnet18")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void frozenBatchNormFollowsModuleToAndMatchesTheFormula() {
        try (PointerScope s = new PointerScope()) {
            FrozenBatchNorm2d bn = new FrozenBatchNorm2d(3);
            try (NoGradGuard g = new NoGradGuard()) {
                bn.weight().copy_(Tensors.fromFloats(new float[]{1.5f, -2f, 0.5f}, 3));
                bn.bias().copy_(Tensors.fromFloats(new float[]{0.1f, 0.2f, -0.3f}, 3));
                bn.runningMean().copy_(Tensors.fromFloats(new float[]{0.5f, -1f, 2f}, 3));
                bn.runningVar().copy_(Tensors.fromFloats(new float[]{4f, 0.25f, 1f}, 3));
            }
            bn.train(true);
            // Module.to replaces the data in place, so the module's own handles follow (as for a device move)
            bn.to(ScalarType.Double, false);
            assertThat(Tensors.isType(bn.weight(), ScalarType.Double)).isTrue();
            StringTensorDict ps = bn.named_parameters(true);
            assertThat(Tensors.isType(ps.get("weight"), ScalarType.Double)).isTrue();
            assertThat(ps.get("weight").requires_grad()).isFalse();
            Tensor x = randn(2, 3, 4, 5).to(ScalarType.Double);
            Tensor y = bn.forward(x);
            Tensor expected = x.sub(bn.runningMean().view(1, 3, 1, 1))
                    .div(bn.runningVar().add(new Scalar(bn.eps())).sqrt().view(1, 3, 1, 1))
                    .mul(bn.weight().view(1, 3, 1, 1)).add(bn.bias().view(1, 3, 1, 1));
            assertThat(y.sub(expected).abs().max().item_double()).isLessThan(1e-12);
        }
    }

    @Test
    void stemLayer1AndAllBatchNormsAreFrozen() {
        try (PointerScope s = new PointerScope()) {
            FasterRCNN model = detector("resnet50");
            StringTensorDict p = model.named_parameters(true);
            int frozen = 0, trained = 0;
            for (long i = 0; i < p.size(); i++) {
                String k = p.get(i).key().getString();
                boolean bn = k.matches(".*\\.(bn\\d|downsample\\.1)\\.(weight|bias)");
                boolean early = k.startsWith("extractor.conv1.") || k.startsWith("extractor.layer1.");
                boolean expectFrozen = bn || early;
                assertThat(p.get(i).value().requires_grad()).as(k + " requires_grad").isEqualTo(!expectFrozen);
                if (expectFrozen) frozen++; else trained++;
            }
            assertThat(frozen).isPositive();
            assertThat(trained).isPositive();
        }
    }

    /**
     * {@code freeze_at} k freezes the stem (k >= 1) and layer1..layer(k-1), as detectron2's {@code FREEZE_AT}; with
     * {@code norm=group_norm} the norms' affine parameters train wherever their stage does.
     */
    @Test
    void freezeAtAndGroupNormDecideWhatTrains() {
        for (String norm : List.of("frozen_bn", "group_norm")) {
            for (int k = 0; k <= ResNetC4Backbone.MAX_FREEZE_AT; k++) {
                try (PointerScope s = new PointerScope()) {
                    Config cfg = Config.defaults().withOverrides(List.of("backbone=resnet50", "norm=" + norm,
                            "freeze_at=" + k));
                    FasterRCNN model = Detectors.create(cfg, List.of("a"));
                    List<String> frozenStages = new ArrayList<>();
                    if (k >= 1) frozenStages.addAll(List.of("extractor.conv1.", "extractor.bn1."));
                    for (int l = 1; l < k; l++) frozenStages.add("extractor.layer" + l + ".");
                    StringTensorDict p = model.named_parameters(true);
                    int trained = 0;
                    for (long i = 0; i < p.size(); i++) {
                        String key = p.get(i).key().getString();
                        boolean normParam = key.matches(".*\\.(bn\\d|downsample\\.1)\\.(weight|bias)");
                        boolean expectFrozen = frozenStages.stream().anyMatch(key::startsWith)
                                || (normParam && norm.equals("frozen_bn"));
                        assertThat(p.get(i).value().requires_grad()).as(norm + " freeze_at=" + k + ": " + key)
                                .isEqualTo(!expectFrozen);
                        if (!expectFrozen) trained++;
                    }
                    assertThat(trained).isPositive();
                }
            }
        }
    }

    /**
     * {@code norm=group_norm}: GroupNorm(32) layers under torchvision's names with weight and bias only (no running
     * statistics), the same output in training and evaluation mode, each group of every image normalised on its
     * own; {@code zero_init_residual} zeroes {@code bn3.weight} (torchvision's rule) instead of {@code conv3}; and
     * torchvision's pretrained BatchNorm weights are refused with a message naming the setting.
     */
    @Test
    void groupNormLayersNormaliseEachImageAndRefusePretrainedWeights() {
        try (PointerScope s = new PointerScope()) {
            Map<String, Info> frozen = stateInfo(new ResNetC4Backbone(ResNetC4Backbone.Depth.RESNET50).trunk());
            ResNetC4Backbone b = new ResNetC4Backbone(ResNetC4Backbone.Depth.RESNET50, 14,
                    ResNetC4Backbone.Norm.GROUP_NORM, 0);
            Map<String, Info> gn = stateInfo(b.trunk());
            List<String> expectedKeys = frozen.keySet().stream()
                    .filter(k -> !k.matches(".*\\.(running_mean|running_var|num_batches_tracked)")).toList();
            assertThat(new TreeSet<>(gn.keySet())).isEqualTo(new TreeSet<>(expectedKeys));
            assertThat(b.norm()).isEqualTo(ResNetC4Backbone.Norm.GROUP_NORM);

            Tensor x = randn(2, 3, 64, 96);
            Tensor evalOut;
            b.trunk().train(false);
            try (NoGradGuard g = new NoGradGuard()) {
                evalOut = b.extract(x);
            }
            b.trunk().train(true);
            try (NoGradGuard g = new NoGradGuard()) {
                assertThat(Tensors.toFloatArray(b.extract(x))).containsExactly(Tensors.toFloatArray(evalOut));
                // each image is normalised on its own: the second image alone gives the batch's second output
                assertThat(Tensors.toFloatArray(b.extract(x.narrow(0, 1, 1))))
                        .containsExactly(Tensors.toFloatArray(evalOut.narrow(0, 1, 1)), org.assertj.core.data.Offset.offset(1e-4f));
            }

            b.zeroInitResiduals();
            StringTensorDict p = b.trunk().named_parameters(true);
            assertThat(p.get("layer2.1.bn3.weight").abs().sum().item_float()).isZero();
            assertThat(p.get("layer2.1.conv3.weight").abs().sum().item_float()).isPositive();
            assertThat(p.get("layer2.1.bn2.weight").abs().sum().item_float()).isPositive();

            Config cfg = Config.defaults().withOverrides(List.of("backbone=resnet50", "norm=group_norm", "freeze_at=0"));
            FasterRCNN model = Detectors.create(cfg, List.of("a"));
            dev.frcnn.io.ModelWeights.Loaded pretrained = new dev.frcnn.io.ModelWeights.Loaded(Map.of(), null,
                    dev.frcnn.io.ModelWeights.Kind.PRETRAINED_BACKBONE, null);
            assertThatThrownBy(() -> Detectors.load(model, cfg, pretrained, "resnet50.pth"))
                    .isInstanceOf(dev.frcnn.io.WeightsMismatchException.class)
                    .hasMessageContaining("resnet50.pth").hasMessageContaining("norm group_norm");
        }
    }

    @Test
    void trainingModeKeepsRunningStatisticsAndFrozenParametersGetNoGradient() {
        try (PointerScope s = new PointerScope()) {
            ResNetC4Backbone b = new ResNetC4Backbone(ResNetC4Backbone.Depth.RESNET50);
            // non-trivial statistics everywhere, so that batch statistics would give different outputs
            StringTensorDict buffers = b.trunk().named_buffers(true);
            try (NoGradGuard g = new NoGradGuard()) {
                for (long i = 0; i < buffers.size(); i++) {
                    String k = buffers.get(i).key().getString();
                    Tensor t = buffers.get(i).value();
                    if (k.endsWith("running_mean")) t.copy_(randn(t.size(0)).mul(new Scalar(0.1)));
                    if (k.endsWith("running_var")) t.copy_(rand(t.size(0)).add(new Scalar(0.5)));
                }
            }
            StringTensorDict trunkBuffers = b.trunk().named_buffers(true);
            Tensor before = trunkBuffers.get("layer2.0.bn1.running_mean").clone();
            Tensor x = randn(2, 3, 64, 96);
            b.trunk().train(false);
            Tensor evalOut;
            try (NoGradGuard g = new NoGradGuard()) {
                evalOut = b.extract(x);
            }
            b.trunk().train(true);
            assertThat(b.trunk().is_training()).isTrue();
            assertThat(b.trunk().layer(2).block(0).is_training()).isTrue();
            Tensor trainOut = b.extract(x);
            assertThat(Tensors.toFloatArray(trainOut)).as("train-mode output equals eval-mode output")
                    .containsExactly(Tensors.toFloatArray(evalOut));
            assertThat(Tensors.toFloatArray(trunkBuffers.get("layer2.0.bn1.running_mean")))
                    .containsExactly(Tensors.toFloatArray(before));
            assertThat(trunkBuffers.get("bn1.num_batches_tracked").item_long()).isZero();

            ConvolutionBackward.backward(trainOut.mean());
            StringTensorDict p = b.trunk().named_parameters(true);
            for (long i = 0; i < p.size(); i++) {
                String k = p.get(i).key().getString();
                Tensor t = p.get(i).value();
                if (t.requires_grad()) {
                    assertThat(t.grad().defined()).as(k + " has a gradient").isTrue();
                } else {
                    assertThat(t.grad().defined()).as(k + " (frozen) has no gradient").isFalse();
                }
            }
            assertThat(p.get("layer2.0.conv1.weight").requires_grad()).isTrue();
            assertThat(p.get("layer1.0.conv1.weight").requires_grad()).isFalse();
        }
    }

    @Test
    void headPoolsClassifiesAndBackpropagatesForBothRoiOps() {
        for (String op : List.of("roi_pool", "roi_align")) {
            try (PointerScope s = new PointerScope()) {
                Config cfg = Config.defaults().withOverrides(List.of("backbone=resnet50", "roi_op=" + op,
                        "roi_align_aligned=true"));
                FasterRCNN model = Detectors.create(cfg, FasterRCNN.VOC_BBOX_LABEL_NAMES);
                assertThat(model.head()).isInstanceOf(VGG16RoIHead.class);
                StringTensorDict rpnParams = model.rpn().named_parameters(true);
                assertThat(rpnParams.get("conv1.weight").size(1)).isEqualTo(ResNetC4Backbone.FEATURE_CHANNELS);
                assertThat(rpnParams.get("conv1.weight").size(0)).isEqualTo(Detectors.RESNET_RPN_MID_CHANNELS);
                model.train(true);
                Tensor features = randn(1, ResNetC4Backbone.FEATURE_CHANNELS, 6, 8).requires_grad_(true);
                Tensor rois = Tensors.fromFloats(new float[]{0f, 0f, 90f, 120f, 10.5f, 20.25f, 60f, 33f}, 2, 4);
                Tensor idx = zeros(new long[]{2}, new TensorOptions(ScalarType.Long));
                RoIHead.Output o = model.head().forward(features, rois, idx);
                assertThat(Tensors.shape(o.roiClsLocs())).containsExactly(2, 21 * 4);
                assertThat(Tensors.shape(o.roiScores())).containsExactly(2, 21);
                ConvolutionBackward.backward(o.roiScores().sum().add(o.roiClsLocs().sum()));
                assertThat(features.grad().abs().sum().item_float()).as(op + " gradient reaches the features")
                        .isPositive();
            }
        }
    }

    /**
     * {@code roi_op} and the RoIAlign keys reach the head: each config's head pools exactly as the op it names (with
     * the configured sampling ratio and alignment), and the same weights give different head outputs for
     * {@code roi_pool} and {@code roi_align}.
     */
    @Test
    void roiOpConfigIsWiredIntoTheHead() {
        try (PointerScope s = new PointerScope()) {
            Tensor features = randn(1, ResNetC4Backbone.FEATURE_CHANNELS, 6, 8);
            Tensor rois = Tensors.fromFloats(new float[]{0f, 0f, 90f, 120f, 10.5f, 20.25f, 60f, 33f}, 2, 4);
            Tensor idx = zeros(new long[]{2}, new TensorOptions(ScalarType.Long));
            Tensor xy = Tensors.fromFloats(new float[]{0f, 0f, 0f, 120f, 90f, 0f, 20.25f, 10.5f, 33f, 60f}, 2, 5);
            record Case(List<String> sets, RoIOperator expected) {}
            List<Case> cases = List.of(
                    new Case(List.of("roi_op=roi_pool"), RoIOperators.roiPool(14, 1.0 / 16)),
                    new Case(List.of("roi_op=roi_align"), RoIOperators.roiAlign(14, 1.0 / 16, 0, false)),
                    new Case(List.of("roi_op=roi_align", "roi_align_sampling_ratio=2", "roi_align_aligned=true"),
                            RoIOperators.roiAlign(14, 1.0 / 16, 2, true)));
            List<float[]> pooled = new ArrayList<>(), scores = new ArrayList<>();
            for (Case c : cases) {
                List<String> sets = new ArrayList<>(List.of("backbone=resnet50"));
                sets.addAll(c.sets());
                org.bytedeco.pytorch.global.torch.manual_seed(7);
                FasterRCNN model = Detectors.create(Config.defaults().withOverrides(sets), FasterRCNN.VOC_BBOX_LABEL_NAMES);
                model.train(false);
                RoIOperator op = ((VGG16RoIHead) model.head()).roiOperator();
                float[] got = Tensors.toFloatArray(op.apply(features, xy));
                assertThat(java.util.Arrays.equals(got, Tensors.toFloatArray(c.expected().apply(features, xy))))
                        .as(c.sets() + ": the head pools exactly as the configured op").isTrue();
                pooled.add(got);
                try (org.bytedeco.pytorch.NoGradGuard ng = new org.bytedeco.pytorch.NoGradGuard()) {
                    scores.add(Tensors.toFloatArray(model.head().forward(features, rois, idx).roiScores()));
                }
            }
            for (int a = 0; a < cases.size(); a++) {
                for (int b = a + 1; b < cases.size(); b++) {
                    assertThat(java.util.Arrays.equals(pooled.get(a), pooled.get(b)))
                            .as(cases.get(a).sets() + " vs " + cases.get(b).sets() + ": pooled features equal").isFalse();
                    assertThat(java.util.Arrays.equals(scores.get(a), scores.get(b)))
                            .as(cases.get(a).sets() + " vs " + cases.get(b).sets() + ": head scores equal").isFalse();
                }
            }
        }
    }

    /**
     * {@code roi_size} reaches the head: the operator pools {@code roi_size x roi_size}, layer4 halves it and the
     * mean gives the same 2048 features per RoI. The weights do not depend on it: a 14x14 model's state dict loads
     * strictly into a 7x7 one, and with the same weights the two give different scores (the pooling differs).
     */
    @Test
    void roiSizeIsWiredIntoTheHeadAndKeepsTheWeights() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor features = randn(1, ResNetC4Backbone.FEATURE_CHANNELS, 6, 8);
            Tensor rois = Tensors.fromFloats(new float[]{0f, 0f, 90f, 120f, 10.5f, 20.25f, 60f, 33f}, 2, 4);
            Tensor idx = zeros(new long[]{2}, new TensorOptions(ScalarType.Long));
            Tensor xy = Tensors.fromFloats(new float[]{0f, 0f, 0f, 120f, 90f, 0f, 20.25f, 10.5f, 33f, 60f}, 2, 5);
            List<String> base = List.of("backbone=resnet50", "roi_op=roi_align", "roi_align_aligned=true");
            FasterRCNN big = Detectors.create(Config.defaults().withOverrides(base), FasterRCNN.VOC_BBOX_LABEL_NAMES);
            List<String> sets = new ArrayList<>(base);
            sets.add("roi_size=7");
            FasterRCNN small = Detectors.create(Config.defaults().withOverrides(sets), FasterRCNN.VOC_BBOX_LABEL_NAMES);
            big.train(false);
            small.train(false);
            assertThat(Tensors.shape(((VGG16RoIHead) big.head()).roiOperator().apply(features, xy)))
                    .containsExactly(2, ResNetC4Backbone.FEATURE_CHANNELS, 14, 14);
            RoIOperator op = ((VGG16RoIHead) small.head()).roiOperator();
            Tensor pooled = op.apply(features, xy);
            assertThat(Tensors.shape(pooled)).containsExactly(2, ResNetC4Backbone.FEATURE_CHANNELS, 7, 7);
            assertThat(Tensors.toFloatArray(pooled))
                    .containsExactly(Tensors.toFloatArray(RoIOperators.roiAlign(7, 1.0 / 16, 0, true).apply(features, xy)));
            ResNetC4Backbone b = (ResNetC4Backbone) small.backbone();
            assertThat(b.boxHead().roiSize()).isEqualTo(7);
            assertThat(Tensors.shape(b.boxHead().forward(pooled))).containsExactly(2, ResNetC4Backbone.OUTPUT_CHANNELS);

            Map<String, Tensor> sd = new LinkedHashMap<>();
            StringTensorDict ps = big.named_parameters(true), bs = big.named_buffers(true);
            for (long i = 0; i < ps.size(); i++) sd.put(ps.get(i).key().getString(), ps.get(i).value());
            for (long i = 0; i < bs.size(); i++) sd.put(bs.get(i).key().getString(), bs.get(i).value());
            assertThat(stateInfo(small).keySet()).containsExactlyElementsOf(stateInfo(big).keySet());
            WeightLoader.load(small, sd, true);
            float[] bigScores = Tensors.toFloatArray(big.head().forward(features, rois, idx).roiScores());
            float[] smallScores = Tensors.toFloatArray(small.head().forward(features, rois, idx).roiScores());
            assertThat(smallScores).hasSize(2 * 21);
            assertThat(java.util.Arrays.equals(bigScores, smallScores)).as("7x7 and 14x14 heads give equal scores").isFalse();
        }
    }

    @Test
    void tinyBackboneAcceptsRoiAlign() {
        try (PointerScope s = new PointerScope()) {
            Config cfg = TinyModels.config("roi_op=roi_align");
            FasterRCNN model = Detectors.create(cfg, List.of("a", "b"));
            assertThat(model.head()).isInstanceOf(VGG16RoIHead.class);
            assertThat(Detectors.create(TinyModels.config(), List.of("a"))
                    .head()).isInstanceOf(VGG16RoIHead.class);
        }
    }
}
