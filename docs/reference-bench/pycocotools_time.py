"""Time pycocotools' COCOeval(iouType='bbox') evaluate()+accumulate() on a COCO ground truth and results file.

Usage:
  PYTHONPATH=PYCOCO/PythonAPI /usr/bin/python3 docs/reference-bench/pycocotools_time.py GT.json DETS.json REPS \
      [OURS.json]

PYCOCO is a checkout of cocodataset/cocoapi with its C extension built in place (see README.md). The files are
loaded once (COCO(GT), loadRes(DETS); not timed); each repetition makes a fresh COCOeval and times evaluate() and
accumulate(), wall clock and the process's CPU time (summarize() runs after the timing, for the stats). The last stdout line is one JSON object: the times
in ms, their min/median/max, the 12 stats and the per-category APs (mean of precision > -1 at area 'all', the last
maxDets, as frcnn's CocoEval.Result.perCategoryAp). With OURS.json (the JSON line of `bin/frcnn bench --what
coco-eval --json`) it also prints the largest difference of the stats and per-category APs from ours, and exits 1
when one exceeds 1e-12.
"""
import contextlib, io, json, statistics, sys, time

import numpy as np

if not hasattr(np, 'float'):
    np.float = float  # pycocotools' accumulate() uses np.float, which numpy 1.24 removed (same meaning)

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from pycocotools import _mask  # the C extension (bbIou); fails here if it was not built


def main():
    gt_file, dets_file, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ours_file = sys.argv[4] if len(sys.argv) > 4 else None
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_file)
        dt = gt.loadRes(dets_file)
    times, cpu = [], []
    for _ in range(reps):
        e = COCOeval(gt, dt, 'bbox')
        with contextlib.redirect_stdout(io.StringIO()):  # evaluate() and accumulate() print progress
            c0, t0 = time.process_time(), time.perf_counter()
            e.evaluate()
            e.accumulate()
            t1, c1 = time.perf_counter(), time.process_time()
        times.append((t1 - t0) * 1e3)
        cpu.append((c1 - c0) * 1e3)
    with contextlib.redirect_stdout(io.StringIO()):
        e.summarize()
    prec = e.eval['precision'][:, :, :, 0, -1]  # T, R, K at area 'all', maxDets[-1]
    per_cat = []
    for k in range(prec.shape[2]):
        p = prec[:, :, k]
        p = p[p > -1]
        per_cat.append(float(np.mean(p)) if p.size else -1.0)
    out = {
        'what': 'pycocotools', 'numpy': np.__version__, 'images': len(gt.getImgIds()),
        'gt_boxes': len(gt.getAnnIds()), 'detections': len(dt.getAnnIds()), 'categories': len(gt.getCatIds()),
        'reps': reps, 'evaluate_accumulate_ms': [round(t, 1) for t in times],
        'evaluate_accumulate_ms_min': round(min(times), 1),
        'evaluate_accumulate_ms_median': round(statistics.median(times), 1),
        'evaluate_accumulate_ms_max': round(max(times), 1),
        'evaluate_accumulate_cpu_ms': [round(t, 1) for t in cpu],
        'evaluate_accumulate_cpu_ms_min': round(min(cpu), 1),
        'evaluate_accumulate_cpu_ms_median': round(statistics.median(cpu), 1),
        'stats': [float(s) for s in e.stats], 'per_category_ap': per_cat,
    }
    rc = 0
    if ours_file:
        with open(ours_file) as f:
            lines = [l for l in f.read().splitlines() if l.strip().startswith('{')]
        ours = json.loads(lines[-1])
        ds = max(abs(a - b) for a, b in zip(ours['stats'], out['stats']))
        dk = max(abs(a - b) for a, b in zip(ours['per_category_ap'], out['per_category_ap']))
        same = len(ours['stats']) == 12 and len(ours['per_category_ap']) == len(per_cat)
        out['max_abs_diff_stats'] = ds
        out['max_abs_diff_per_category_ap'] = dk
        if not same or ds > 1e-12 or dk > 1e-12:
            rc = 1
    print(json.dumps(out))
    return rc


if __name__ == '__main__':
    sys.exit(main())
