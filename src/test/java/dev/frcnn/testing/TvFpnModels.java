package dev.frcnn.testing;

import dev.frcnn.io.StateDictFiles;
import org.bytedeco.javacpp.PointerScope;
import java.io.IOException;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.model.ImageList;
import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.model.backbone.ResNetFPNBackbone;
import dev.frcnn.model.roi.FastRCNNPredictor;
import dev.frcnn.model.roi.MultiScaleRoIAlign;
import dev.frcnn.model.roi.RoIHeads;
import dev.frcnn.model.roi.TwoMLPHead;
import dev.frcnn.model.rpn.AnchorGenerator;
import dev.frcnn.model.rpn.MultiLevelRegionProposalNetwork;
import dev.frcnn.model.rpn.RPNHead;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The {@code tv_fpn_forward} model built once per JVM: {@link TorchvisionFasterRCNN} with every setting read from
 * the fixture's {@code params.model} (sizes, eps, anchors, RPN and box thresholds, class count) and the fixture's
 * formula weights; and its backbone's output on the fixture's image, computed once (the expensive part), so that
 * the parity test classes of the stages share it.
 */
public final class TvFpnModels {
    private static TorchvisionFasterRCNN model;
    private static Features features;

    private TvFpnModels() {}

    /**
     * The transformed batch and the FPN levels of the fixture's image (kept alive for the JVM).
     *
     * @param batch the padded batch and resized size
     * @param levels the FPN levels '0'..'3', 'pool'
     */
    public record Features(ImageList batch, List<Tensor> levels) {}

    /** The model in eval mode with the fixture's formula weights. */
    public static synchronized TorchvisionFasterRCNN model() {
        if (model == null) model = build(TvFpnFixture.forward());
        return model;
    }

    /** The model's transform and backbone on the fixture's image, computed once. */
    public static synchronized Features features() {
        if (features == null) {
            TorchvisionFasterRCNN m = model();
            Golden g = TvFpnFixture.forward();
            try (NoGradGuard ng = new NoGradGuard()) {
                ImageList batch = m.transform().apply(List.of(TvFpnFixture.image(g)));
                features = new Features(batch, Collections.unmodifiableList(new ArrayList<>(
                        m.backbone().forward(batch.tensors()))));
            }
        }
        return features;
    }

    /** Builds the fixture's model, fills the formula weights, sets eval mode. */
    public static TorchvisionFasterRCNN build(Golden g) {
        JsonNode m = TvFpnFixture.model(g);
        AnchorGenerator anchors = TvFpnParams.anchorGenerator(g);
        MultiLevelRegionProposalNetwork.Settings rpnSettings = new MultiLevelRegionProposalNetwork.Settings(
                MultiLevelRegionProposalNetwork.Settings.DEFAULTS.preNmsTopNTrain(), m.get("rpn_pre_nms_top_n_test").asLong(),
                MultiLevelRegionProposalNetwork.Settings.DEFAULTS.postNmsTopNTrain(), m.get("rpn_post_nms_top_n_test").asLong(),
                m.get("rpn_nms_thresh").asDouble(), m.get("rpn_score_thresh").asDouble(), m.get("rpn_min_size").asDouble());
        ResNetFPNBackbone backbone = new ResNetFPNBackbone(m.get("frozen_bn_eps").asDouble(),
                ResNetFPNBackbone.DEFAULT_TRAINABLE_LAYERS);
        RPNHead head = new RPNHead(ResNetFPNBackbone.OUT_CHANNELS, anchors.numAnchorsPerLocation()[0]);
        MultiLevelRegionProposalNetwork rpn = new MultiLevelRegionProposalNetwork(head, anchors, rpnSettings);
        MultiScaleRoIAlign pool = new MultiScaleRoIAlign();
        TwoMLPHead boxHead = new TwoMLPHead(ResNetFPNBackbone.OUT_CHANNELS * pool.outputSize() * pool.outputSize(),
                TorchvisionFasterRCNN.REPRESENTATION_SIZE);
        int numClasses = numClasses(g);
        FastRCNNPredictor predictor = new FastRCNNPredictor(TorchvisionFasterRCNN.REPRESENTATION_SIZE, numClasses);
        RoIHeads roiHeads = new RoIHeads(pool, boxHead, predictor, new RoIHeads.Settings(
                m.get("box_score_thresh").asDouble(), m.get("box_nms_thresh").asDouble(),
                m.get("box_detections_per_img").asInt()));
        List<String> names = new ArrayList<>();
        for (int c = 1; c < numClasses; c++) names.add("class " + c);
        TorchvisionFasterRCNN model = new TorchvisionFasterRCNN(TvFpnFixture.transform(g), backbone, rpn, roiHeads, names);
        Map<String, Tensor> targets = TvFpnFixture.targets(model, "");
        List<String> skipped = ResNetFormulaWeights.fill(targets, g);
        if (!skipped.isEmpty()) throw new IllegalStateException("fixture entries without a model tensor: " + skipped);
        model.eval();
        return model;
    }

    /**
     * Writes {@link #model()}'s formula weights as torchvision saves a state dict ({@code torch.save(model.state_dict())}:
     * its keys in torchvision's order), a 167 MB file.
     *
     * @param file where to write
     * @return {@code file}
     * @throws IOException if it cannot be written
     */
    public static Path writeFormulaPth(Path file) throws IOException {
        TorchvisionFasterRCNN m = model();
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> targets = TvFpnFixture.targets(m, "");
            Map<String, Tensor> sd = new java.util.LinkedHashMap<>();
            for (String k : m.stateDictKeys()) sd.put(k, targets.get(k));
            return StateDictFiles.writeTensors(file, sd);
        }
    }

    /** The class count (background included): rows of the fixture's {@code cls_score.weight}. */
    public static int numClasses(Golden g) {
        for (ResNetFormulaWeights.Entry e : ResNetFormulaWeights.entries(g)) {
            if (e.key().equals("roi_heads.box_predictor.cls_score.weight")) return (int) e.shape()[0];
        }
        throw new IllegalStateException(g.name() + ": no roi_heads.box_predictor.cls_score.weight entry");
    }
}
