package dev.frcnn.model.backbone;

import dev.frcnn.model.roi.NormLayer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

import static org.bytedeco.pytorch.global.torch.max_pool2d;
import static org.bytedeco.pytorch.global.torch.relu;

/**
 * torchvision 0.14's {@code BackboneWithFPN} of {@code fasterrcnn_resnet50_fpn}: a ResNet-50 body
 * ({@code resnet50(norm_layer=FrozenBatchNorm2d)} without {@code avgpool}/{@code fc}, torchvision's
 * {@code IntermediateLayerGetter} returning layer1..layer4) and a {@link FeaturePyramidNetwork} of 256 channels with
 * the max-pool 'pool' level.
 *
 * <p>Children {@code body} ({@code conv1}, {@code bn1}, {@code layer1} .. {@code layer4}) and {@code fpn}: registered
 * as {@code backbone} in a detector, the state_dict keys are torchvision's exactly ({@code backbone.body.layer1.0.conv1.weight},
 * {@code backbone.fpn.inner_blocks.0.0.weight}, ...). The normalisation layers are {@link FrozenBatchNorm2d} without
 * {@code num_batches_tracked} (torchvision's own FrozenBatchNorm2d has none), with the given {@code eps}: 1e-5 as
 * built by torchvision, 0.0 for its COCO checkpoints ({@code overwrite_eps(model, 0.0)}). {@link #v2} is
 * {@code fasterrcnn_resnet50_fpn_v2}'s: {@code nn.BatchNorm2d} (in eval mode, with {@code num_batches_tracked}) in
 * the body and in every FPN block.
 *
 * <p>The Bottleneck blocks are {@link ResNetC4Backbone}'s (torchvision's v1.5 layout). Trainable layers follow
 * torchvision's {@code trainable_backbone_layers} ({@code _resnet_fpn_extractor}): the last k of
 * {@code layer4, layer3, layer2, layer1, conv1} train (and {@code bn1} when k = 5, which has no trainable parameter
 * here); everything else in the body has {@code requires_grad=false}. The FPN always trains.
 */
public final class ResNetFPNBackbone extends Module {
    /** torchvision's default {@code trainable_backbone_layers} for {@code fasterrcnn_resnet50_fpn}. */
    public static final int DEFAULT_TRAINABLE_LAYERS = 3;
    /** Channels of every FPN level. */
    public static final int OUT_CHANNELS = 256;
    /** ResNet-50's Bottleneck blocks per stage. */
    private static final int[] BLOCKS = {3, 4, 6, 3};

    private final Body body;
    private final FeaturePyramidNetwork fpn;
    private final double eps;
    private final int trainableLayers;

    /**
     * @param frozenBnEps eps of every {@link FrozenBatchNorm2d} (0.0 for torchvision's COCO checkpoints)
     * @param trainableLayers 0..5, torchvision's {@code trainable_backbone_layers}
     * @throws IllegalArgumentException for a trainable layer count outside [0, 5] or a negative eps
     */
    public ResNetFPNBackbone(double frozenBnEps, int trainableLayers) {
        this(FrozenBatchNorm2d.asNormLayer(frozenBnEps, false), null, trainableLayers);
    }

    /**
     * torchvision's {@code _resnet_fpn_extractor(resnet50(norm_layer=bodyNorm), trainableLayers,
     * norm_layer=fpnNorm)}.
     *
     * @param bodyNorm the body's norm layer, whose layers are {@link FrozenBatchNorm2d}s (their eps and whether they
     *     have {@code num_batches_tracked}); {@link FrozenBatchNorm2d#asNormLayer}
     * @param fpnNorm the FPN's norm layer; null for none ({@code fasterrcnn_resnet50_fpn})
     * @param trainableLayers 0..5, torchvision's {@code trainable_backbone_layers}
     * @throws IllegalArgumentException for a trainable layer count outside [0, 5]
     * @throws ClassCastException if {@code bodyNorm} makes another module than a {@link FrozenBatchNorm2d}
     */
    public ResNetFPNBackbone(NormLayer bodyNorm, NormLayer fpnNorm, int trainableLayers) {
        super("BackboneWithFPN");
        if (trainableLayers < 0 || trainableLayers > 5) {
            throw new IllegalArgumentException("trainable_backbone_layers must be in [0, 5], got " + trainableLayers);
        }
        this.trainableLayers = trainableLayers;
        this.body = register_module("body", new Body(c -> (FrozenBatchNorm2d) bodyNorm.create(c)));
        this.eps = ((FrozenBatchNorm2d) body.bn1).eps();
        this.fpn = register_module("fpn", new FeaturePyramidNetwork(
                new int[]{256, 512, 1024, 2048}, OUT_CHANNELS, fpnNorm));
        List<String> train = List.of("layer4", "layer3", "layer2", "layer1", "conv1").subList(0, trainableLayers);
        StringTensorDict ps = body.named_parameters(true);
        for (long i = 0; i < ps.size(); i++) {
            String name = ps.get(i).key().getString();
            Tensor p = ps.get(i).value();
            // FrozenBatchNorm2d's weight and bias never train (registered with requires_grad=false; torchvision
            // keeps them as buffers); the convolutions train when their layer is among the trainable ones.
            if (p.requires_grad()) p.requires_grad_(train.stream().anyMatch(name::startsWith));
        }
    }

    /** torchvision's build: eps 1e-5 ({@link FrozenBatchNorm2d#DEFAULT_EPS}), 3 trainable layers. */
    public ResNetFPNBackbone() {
        this(FrozenBatchNorm2d.DEFAULT_EPS, DEFAULT_TRAINABLE_LAYERS);
    }

    /**
     * {@code fasterrcnn_resnet50_fpn_v2}'s backbone for inference: torchvision 0.14 builds its ResNet-50 body with
     * {@code nn.BatchNorm2d} (with or without weights) and {@code _resnet_fpn_extractor(..., norm_layer=nn.BatchNorm2d)};
     * here every one of them is a {@link FrozenBatchNorm2d} with the {@code num_batches_tracked} buffer: what
     * {@code nn.BatchNorm2d} computes in {@code eval()} mode, with its keys.
     *
     * @param batchNormEps the eps of every norm ({@code nn.BatchNorm2d}'s 1e-5, {@link FrozenBatchNorm2d#DEFAULT_EPS})
     * @param trainableLayers 0..5, torchvision's {@code trainable_backbone_layers} (3)
     * @return the backbone
     */
    public static ResNetFPNBackbone v2(double batchNormEps, int trainableLayers) {
        NormLayer batchNorm = FrozenBatchNorm2d.asNormLayer(batchNormEps, true);
        return new ResNetFPNBackbone(batchNorm, batchNorm, trainableLayers);
    }

    /** The eps of the FrozenBatchNorm2d layers. */
    public double frozenBnEps() { return eps; }

    /** The number of trainable body layers (torchvision's {@code trainable_backbone_layers}). */
    public int trainableLayers() { return trainableLayers; }

    /** The ResNet body. */
    public Body body() { return body; }

    /** The feature pyramid. */
    public FeaturePyramidNetwork fpn() { return fpn; }

    /**
     * @param images (N, 3, H, W) float32 normalised, padded batch (H, W multiples of 32 for exact level sizes)
     * @return the FPN levels {@code '0', '1', '2', '3', 'pool'} ({@link FeaturePyramidNetwork#LEVEL_NAMES}):
     *     (N, 256, H/4, W/4), (N, 256, H/8, W/8), (N, 256, H/16, W/16), (N, 256, H/32, W/32), (N, 256, H/64, W/64)
     *     float32 (sizes rounded up)
     */
    public List<Tensor> forward(Tensor images) {
        return fpn.forward(body.forward(images));
    }

    /**
     * torchvision's ResNet-50 trunk as {@code IntermediateLayerGetter(return_layers={layer1: '0', ..., layer4: '3'})}:
     * {@code conv1} (7x7/2), {@code bn1}, ReLU, max-pool 3/2 pad 1, {@code layer1} .. {@code layer4}.
     */
    public static final class Body extends Module {
        private final Conv2dImpl conv1;
        private final Module bn1;
        private final ResNetC4Backbone.Stage[] layers = new ResNetC4Backbone.Stage[4];

        Body(java.util.function.IntFunction<Module> norm) {
            super("IntermediateLayerGetter");
            conv1 = register_module("conv1", ResNetC4Backbone.conv(3, 64, 7, 2, 3));
            bn1 = register_module("bn1", norm.apply(64));
            int in = 64;
            for (int k = 0; k < 4; k++) {
                int width = 64 << k;
                layers[k] = register_module("layer" + (k + 1),
                        new ResNetC4Backbone.Stage(in, width, BLOCKS[k], k == 0 ? 1 : 2, norm));
                in = width * ResNetC4Backbone.EXPANSION;
            }
        }

        /** Stage {@code k} = 1..4 ({@code layer1..layer4}). */
        public ResNetC4Backbone.Stage layer(int k) {
            if (k < 1 || k > 4) throw new IllegalArgumentException("ResNet stages are 1..4, got " + k);
            return layers[k - 1];
        }

        /**
         * @param x (N, 3, H, W) float32
         * @return layer1..layer4's outputs: (N, 256, H/4, W/4), (N, 512, H/8, W/8), (N, 1024, H/16, W/16),
         *     (N, 2048, H/32, W/32) float32 (sizes rounded up)
         */
        public List<Tensor> forward(Tensor x) {
            Tensor y = relu(ResNetC4Backbone.Norm.apply(bn1, conv1.forward(x)));
            y = max_pool2d(y, new long[]{3, 3}, new long[]{2, 2}, new long[]{1, 1}, new long[]{1, 1}, false);
            Tensor c2 = layers[0].forward(y);
            Tensor c3 = layers[1].forward(c2);
            Tensor c4 = layers[2].forward(c3);
            Tensor c5 = layers[3].forward(c4);
            return List.of(c2, c3, c4, c5);
        }
    }
}
