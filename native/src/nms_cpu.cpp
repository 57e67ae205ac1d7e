/*
 * NMS on the CPU with torchvision.ops.nms semantics (torchvision/csrc/ops/cpu/nms_kernel.cpp).
 *
 * Same decisions as torchvision, faster:
 * - indices stable-sorted by score (descending), boxes gathered into sorted structure-of-arrays
 *   with the areas precomputed ((a2 - a1) * (b2 - b1), float32, as torchvision's areas tensor);
 * - (double) iou > thr is replaced by iou > t, t = the largest float32 <= thr (an equivalent test);
 * - the suppression loop of each kept box runs over all later boxes without branches, so the
 *   compiler vectorises it (IoU in float32, same operations in the same order; -ffp-contract=off);
 * - the loop ends once max_keep boxes are kept.
 */
#include "frcnn_ops.h"
#include "ops_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <numeric>
#include <vector>

namespace {

struct Sorted {
    float *a1, *b1, *a2, *b2, *area;
    int32_t *sup;
};

/* Marks sup[j] for j in [from, n) when iou(i, j) > t. Every float operation is torchvision's:
 * xx1 = std::max(ia1, a1[j]) ... w = std::max(0, xx2 - xx1), inter = w * h,
 * ovr = inter / (iarea + area[j] - inter). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void suppress_after(const float *__restrict a1, const float *__restrict b1, const float *__restrict a2,
                    const float *__restrict b2, const float *__restrict area, int32_t *__restrict sup,
                    int64_t from, int64_t n, float ia1, float ib1, float ia2, float ib2, float iarea, float t) {
    for (int64_t j = from; j < n; ++j) {
        float xa1 = a1[j], xb1 = b1[j], xa2 = a2[j], xb2 = b2[j];
        float m1 = (ia1 < xa1) ? xa1 : ia1; /* std::max(ia1, a1[j]) */
        float n1 = (ib1 < xb1) ? xb1 : ib1;
        float m2 = (xa2 < ia2) ? xa2 : ia2; /* std::min(ia2, a2[j]) */
        float n2 = (xb2 < ib2) ? xb2 : ib2;
        float dw = m2 - m1, dh = n2 - n1;
        float w = (0.0f < dw) ? dw : 0.0f; /* std::max(0, dw) */
        float h = (0.0f < dh) ? dh : 0.0f;
        float inter = w * h;
        float ovr = inter / (iarea + area[j] - inter);
        sup[j] |= (ovr > t) ? 1 : 0;
    }
}

}  // namespace

extern "C" FRCNN_API int32_t frcnn_nms_cpu(const float *boxes, const float *scores, int64_t n, double iou_threshold,
                                           int64_t max_keep, int64_t *keep, int64_t *n_keep, char *err,
                                           int64_t err_len) {
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_nms_args(boxes, scores, n, iou_threshold, keep, n_keep, err, err_len);
    if (rc != FRCNN_OK) return rc;
    *n_keep = 0;
    if (n == 0) return FRCNN_OK;
    for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(scores[i]))
            return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "nms: score %lld is NaN", (long long)i);
    }
    if (max_keep == 0) return FRCNN_OK;
    const int64_t limit = (max_keep < 0 || max_keep > n) ? n : max_keep;

    try {
        std::vector<int64_t> order((size_t)n);
        std::iota(order.begin(), order.end(), (int64_t)0);
        /* torch's sort(stable=True, descending=True): equal scores (also -0.0 vs 0.0) keep index order */
        std::stable_sort(order.begin(), order.end(), [scores](int64_t x, int64_t y) { return scores[x] > scores[y]; });

        /* one allocation for the structure of arrays; 64-byte aligned columns */
        const size_t stride = ((size_t)n + 15) & ~(size_t)15;
        std::unique_ptr<float[]> buf(new float[stride * 5 + 16]);
        float *base = buf.get();
        base += (16 - (((uintptr_t)base / sizeof(float)) & 15)) & 15;
        Sorted s;
        s.a1 = base;
        s.b1 = base + stride;
        s.a2 = base + 2 * stride;
        s.b2 = base + 3 * stride;
        s.area = base + 4 * stride;
        std::unique_ptr<int32_t[]> sup(new int32_t[(size_t)n]());
        s.sup = sup.get();
        for (int64_t k = 0; k < n; ++k) {
            const float *b = boxes + order[(size_t)k] * 4;
            s.a1[k] = b[0];
            s.b1[k] = b[1];
            s.a2[k] = b[2];
            s.b2[k] = b[3];
            s.area[k] = (b[2] - b[0]) * (b[3] - b[1]);
        }
        const float t = frcnn_float_threshold_below(iou_threshold);

        int64_t kept = 0;
        for (int64_t i = 0; i < n; ++i) {
            if (s.sup[i]) continue;
            keep[kept++] = order[(size_t)i];
            if (kept >= limit) break;
            suppress_after(s.a1, s.b1, s.a2, s.b2, s.area, s.sup, i + 1, n, s.a1[i], s.b1[i], s.a2[i], s.b2[i],
                           s.area[i], t);
        }
        *n_keep = kept;
        return FRCNN_OK;
    } catch (const std::bad_alloc &) {
        return frcnn_set_error(err, err_len, FRCNN_ERR_ALLOC, "nms: cannot allocate temporaries for %lld boxes",
                               (long long)n);
    }
}
