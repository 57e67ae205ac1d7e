"""Times torchvision 0.14's fasterrcnn_resnet50_fpn predict on one photo, the baseline of `bench --what tv-fpn`.

Usage: python3 tv_fpn_predict.py THREADS IMAGE REPS [fp32|bf16]

The model is built as torchvision builds `fasterrcnn_resnet50_fpn` (FrozenBatchNorm2d, 91 classes, min_size 800,
max_size 1333) with random weights (no download is possible here); with random weights the RPN and the box head
see other scores than with COCO weights, but every stage runs on the same shapes: 1000 proposals per image in eval
mode, whatever the weights. The image is resized so that its short side is 800 before the timed call, as
`bench --what tv-fpn` does, so both sides run the transform on an 800 x 1066 input (for a 3:4 photo).
Prints one JSON line: threads, reps, precision, the resized input size, min/median/max ms, detections.
"""
import json
import statistics
import sys
import time

import torch
import torchvision
from torchvision.io import read_image
from torchvision.models.detection import fasterrcnn_resnet50_fpn
from torchvision.ops import FrozenBatchNorm2d  # noqa: F401  (the model's own norm layer)

threads, image_path, reps = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
precision = sys.argv[4] if len(sys.argv) > 4 else "fp32"
torch.set_num_threads(threads)
torch.manual_seed(0)

model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
model.eval()

img = read_image(image_path).float() / 255.0          # (3, H, W) RGB in [0, 1]
h, w = img.shape[1:]
scale = 800.0 / min(h, w)
img = torch.nn.functional.interpolate(img[None], size=(int(h * scale), int(w * scale)), mode="bilinear",
                                      align_corners=False)[0].clamp(0, 1)


class Bf16Backbone(torch.nn.Module):
    """The backbone (body + FPN) under bf16 autocast, its levels back in float32: what `precision=bf16` does on our
    side. Autocast over the whole model fails in torchvision 0.14 ("nms_kernel" not implemented for 'BFloat16')."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.out_channels = backbone.out_channels

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            levels = self.backbone(x)
        return {k: v.float() for k, v in levels.items()}


if precision == "bf16":
    model.backbone = Bf16Backbone(model.backbone)


def once():
    with torch.no_grad():
        return model([img])


once()  # warm-up: oneDNN primitives, allocator
times = []
for _ in range(reps):
    t0 = time.perf_counter()
    out = once()
    times.append((time.perf_counter() - t0) * 1000.0)
print(json.dumps({
    "torch": torch.__version__, "torchvision": torchvision.__version__, "threads": threads, "reps": reps,
    "precision": precision, "input_hw": list(img.shape[1:]), "ms_min": min(times),
    "ms_median": statistics.median(times), "ms_max": max(times), "detections": int(out[0]["boxes"].shape[0]),
}))
