"""Compares torchvision's detections (tv_v2_detections.py's JSON) with ours (bin/frcnn detect's OUT/<stem>.json).

Usage: python3 compare_detections.py TORCHVISION_JSON OURS_JSON [IOU]

A torchvision detection (label L, box x1, y1, x2, y2) is matched by one of ours with class_index = L - 1 and
IoU >= IOU (default 0.9), greedily by decreasing IoU, each used once; the same rule the other way round. Prints one
JSON line: counts, the matched fractions both ways, the score differences and the largest box-corner difference of
the matched pairs.
"""
import json
import sys


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(src, dst, thr):
    """Greedy one-to-one matching of src to dst (same label, IoU >= thr); returns pairs (i, j)."""
    cand = sorted(((iou(s["box"], d["box"]), i, j) for i, s in enumerate(src) for j, d in enumerate(dst)
                   if s["label"] == d["label"]), reverse=True)
    used_i, used_j, pairs = set(), set(), []
    for v, i, j in cand:
        if v < thr:
            break
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((i, j))
    return pairs


tv = json.load(open(sys.argv[1]))
ours = json.load(open(sys.argv[2]))
thr = float(sys.argv[3]) if len(sys.argv) > 3 else 0.9
a = [{"box": b, "score": s, "label": l} for b, s, l in zip(tv["boxes"], tv["scores"], tv["labels"])]
b = [{"box": [d["xmin"], d["ymin"], d["xmax"], d["ymax"]], "score": d["score"], "label": d["class_index"] + 1}
     for d in ours["detections"]]
fwd = match(a, b, thr)
back = match(b, a, thr)
diffs = [abs(a[i]["score"] - b[j]["score"]) for i, j in fwd]
corners = [max(abs(x - y) for x, y in zip(a[i]["box"], b[j]["box"])) for i, j in fwd]
print(json.dumps({
    "torchvision": len(a), "ours": len(b), "iou": thr,
    "matched_torchvision_to_ours": len(fwd) / max(1, len(a)), "matched_ours_to_torchvision": len(back) / max(1, len(b)),
    "score_diff_max": max(diffs, default=0.0), "score_diff_mean": sum(diffs) / max(1, len(diffs)),
    "box_corner_diff_max_px": max(corners, default=0.0),
    "top5_scores_torchvision": [round(x["score"], 6) for x in a[:5]],
    "top5_scores_ours": [round(x["score"], 6) for x in b[:5]],
}))
