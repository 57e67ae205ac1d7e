package dev.frcnn.model.roi;

import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * torchvision 0.14's {@code FastRCNNPredictor}: {@code cls_score} (one logit per class, background 0 included) and
 * {@code bbox_pred} (four deltas {@code (dx, dy, dw, dh)} per class) on the box head's features.
 */
public final class FastRCNNPredictor extends Module {
    private final LinearImpl clsScore;
    private final LinearImpl bboxPred;
    private final int numClasses;

    /**
     * @param inChannels the box head's width (1024)
     * @param numClasses classes including the background (91 for torchvision's COCO models)
     */
    public FastRCNNPredictor(int inChannels, int numClasses) {
        super("FastRCNNPredictor");
        this.numClasses = numClasses;
        clsScore = register_module("cls_score", new LinearImpl(inChannels, numClasses));
        bboxPred = register_module("bbox_pred", new LinearImpl(inChannels, numClasses * 4));
    }

    /** Classes including the background. */
    public int numClasses() { return numClasses; }

    /**
     * @param classLogits (R, numClasses) float32
     * @param boxRegression (R, 4 * numClasses) float32, {@code (dx, dy, dw, dh)} per class
     */
    public record Output(Tensor classLogits, Tensor boxRegression) {}

    /** @param x (R, inChannels) float32 (or (R, C, 1, 1)) @return the logits and deltas */
    public Output forward(Tensor x) {
        Tensor f = x.flatten(1, -1);
        return new Output(clsScore.forward(f), bboxPred.forward(f));
    }
}
