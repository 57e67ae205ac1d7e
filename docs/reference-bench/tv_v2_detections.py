"""torchvision 0.14's fasterrcnn_resnet50_fpn_v2 with random weights: its state dict and its detections on one photo.

Usage: python3 tv_v2_detections.py IMAGE OUT_DIR [SEED [CLS_SCALE]]

Builds `fasterrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91)` (nn.BatchNorm2d in the
ResNet body, the FPN and the box head), gives every BatchNorm2d random running statistics and affine parameters (so
no normalisation is close to the identity), multiplies the box predictor's `cls_score.weight` by CLS_SCALE (default
200) so that random weights give confident detections, and runs it in eval mode on IMAGE (PIL decode, EXIF
orientation applied, RGB / 255). Writes OUT_DIR/v2.pth (`torch.save(model.state_dict())`, with the
`num_batches_tracked` entries) and OUT_DIR/v2_detections.json (boxes x1, y1, x2, y2 in the photo's pixels, scores,
labels; box_score_thresh 0.05 as torchvision's default). Compare with
`bin/frcnn detect --weights OUT_DIR/v2.pth --set backbone=resnet50_fpn_v2 --preset evaluate --out OUT IMAGE`
and `compare_detections.py` (docs/torchvision.md, "fasterrcnn_resnet50_fpn_v2").
"""
import json
import os
import sys

import torch
import torchvision
from PIL import Image, ImageOps
from torchvision.models.detection import fasterrcnn_resnet50_fpn_v2
from torchvision.transforms.functional import pil_to_tensor

image_path, out_dir = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
cls_scale = float(sys.argv[4]) if len(sys.argv) > 4 else 200.0
torch.manual_seed(seed)
torch.set_num_threads(int(os.environ.get("THREADS", "2")))

model = fasterrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91)
bns = 0
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.weight.uniform_(0.5, 1.0)
            m.bias.uniform_(-0.1, 0.1)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(1000)
            bns += 1
    model.roi_heads.box_predictor.cls_score.weight.mul_(cls_scale)
model.eval()
os.makedirs(out_dir, exist_ok=True)
torch.save(model.state_dict(), os.path.join(out_dir, "v2.pth"))

img = ImageOps.exif_transpose(Image.open(image_path)).convert("RGB")
x = pil_to_tensor(img).float() / 255.0
with torch.no_grad():
    out = model([x])[0]
result = {
    "torch": torch.__version__, "torchvision": torchvision.__version__, "seed": seed, "cls_scale": cls_scale,
    "batch_norm_layers": bns, "state_dict_entries": len(model.state_dict()), "image_hw": list(x.shape[1:]),
    "boxes": out["boxes"].tolist(), "scores": out["scores"].tolist(), "labels": out["labels"].tolist(),
}
with open(os.path.join(out_dir, "v2_detections.json"), "w") as f:
    json.dump(result, f)
print(json.dumps({k: v for k, v in result.items() if k not in ("boxes", "scores", "labels")}
                 | {"detections": len(result["scores"]), "top_scores": result["scores"][:5]}))
