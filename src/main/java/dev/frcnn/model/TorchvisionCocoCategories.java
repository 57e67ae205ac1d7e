package dev.frcnn.model;

import java.util.List;

/**
 * torchvision 0.14's {@code _COCO_CATEGORIES}: the class names of its COCO detection checkpoints
 * ({@code FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]}), indexed by label: index 0 is
 * {@code __background__}, labels 1..90 are COCO category ids, and the ids COCO does not use are {@code N/A}.
 */
public final class TorchvisionCocoCategories {
    private TorchvisionCocoCategories() {}

    /** The 91 names, background first. */
    public static final List<String> NAMES = List.of(
            "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train",
            "truck", "boat", "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench",
            "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear",
            "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A", "handbag",
            "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
            "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup",
            "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
            "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
            "potted plant", "bed", "N/A", "dining table", "N/A", "N/A", "toilet", "N/A",
            "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
            "toaster", "sink", "refrigerator", "N/A", "book", "clock", "vase", "scissors",
            "teddy bear", "hair drier", "toothbrush");

    /** The 90 foreground names (labels 1..90), as a detector's class names. */
    public static final List<String> FOREGROUND = NAMES.subList(1, NAMES.size());
}
