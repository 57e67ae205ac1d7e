/*
 * RoIAlign on the CPU with torchvision.ops.roi_align semantics
 * (torchvision/csrc/ops/cpu/roi_align_kernel.cpp): the same float32 geometry (roi_align_internal.h),
 * the same per-roi table of bilinear samples, the same accumulation order in the forward
 * ((iy, ix), each sample ((w1*v1 + w2*v2) + w3*v3) + w4*v4, then / count) and in the backward
 * ((roi, channel, ph, pw, iy, ix, corner 1..4) for every grad_input element).
 *
 * The forward and backward split the channels between threads: every (batch, channel) plane is
 * touched by one thread in the sequential order, so results do not depend on the thread count.
 */
#include "frcnn_ops.h"
#include "cpu_parallel.h"
#include "ops_internal.h"
#include "roi_align_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

namespace {


/* The samples of one roi in (ph, pw, iy, ix) order (torchvision's pre_calc table). */
struct RoiTable {
    FrcnnAlignGeom geom;
    int64_t batch_index;
    int64_t offset; /* first sample of this roi in the flat sample vector */
};

int32_t check_rois(const char *what, const float *rois, int64_t n_rois, int64_t batch, char *err, int64_t err_len) {
    for (int64_t n = 0; n < n_rois; ++n) {
        const float *r = rois + n * 5;
        if (!frcnn_roi_valid(r, batch))
            return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                                   "%s: roi %lld = (%g, %g, %g, %g, %g): the batch index must be an integer in "
                                   "[0, %lld) and the coordinates finite",
                                   what, (long long)n, (double)r[0], (double)r[1], (double)r[2], (double)r[3],
                                   (double)r[4], (long long)batch);
    }
    return FRCNN_OK;
}

/* Builds the per-roi geometry and the flat sample table; FRCNN_ERR_ALLOC if it does not fit. */
int32_t build_tables(const char *what, const float *rois, int64_t n_rois, int64_t height, int64_t width,
                     float scale, int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio, int32_t aligned,
                     std::vector<RoiTable> &tables, std::vector<FrcnnAlignSample> &samples, double *work,
                     char *err, int64_t err_len) {
    const int64_t bins = pooled_h * pooled_w;
    int64_t total = 0;
    try {
        tables.resize((size_t)n_rois);
        for (int64_t n = 0; n < n_rois; ++n) {
            const float *r = rois + n * 5;
            RoiTable &t = tables[(size_t)n];
            t.geom = frcnn_align_geom(r, scale, pooled_h, pooled_w, sampling_ratio, aligned);
            t.batch_index = (int64_t)r[0];
            t.offset = total;
            const int64_t s = frcnn_align_samples(t.geom);
            if (s > 0 && (double)s * (double)bins + (double)total > 4e9)
                return frcnn_set_error(err, err_len, FRCNN_ERR_ALLOC,
                                       "%s: roi %lld needs %lld samples per bin; the sample table is too large",
                                       what, (long long)n, (long long)s);
            total += s * bins;
        }
        samples.resize((size_t)total);
    } catch (const std::bad_alloc &) {
        return frcnn_set_error(err, err_len, FRCNN_ERR_ALLOC, "%s: cannot allocate the sample table (%lld samples)",
                               what, (long long)total);
    }
    for (int64_t n = 0; n < n_rois; ++n) {
        const RoiTable &t = tables[(size_t)n];
        const FrcnnAlignGeom &g = t.geom;
        if (frcnn_align_samples(g) == 0) continue;
        FrcnnAlignSample *out = samples.data() + t.offset;
        for (int64_t ph = 0; ph < pooled_h; ++ph)
            for (int64_t pw = 0; pw < pooled_w; ++pw)
                for (int64_t iy = 0; iy < g.grid_h; ++iy) {
                    const float y = frcnn_align_coord(g.start_h, ph, g.bin_h, iy, g.grid_h);
                    for (int64_t ix = 0; ix < g.grid_w; ++ix) {
                        const float x = frcnn_align_coord(g.start_w, pw, g.bin_w, ix, g.grid_w);
                        *out++ = frcnn_align_sample(y, x, height, width);
                    }
                }
    }
    *work = (double)total * 4.0 + (double)(n_rois * bins);
    return FRCNN_OK;
}

}  // namespace

int32_t frcnn_check_roi_align_args(const char *what, int64_t batch, int64_t channels, int64_t height, int64_t width,
                                   const void *rois, int64_t n_rois, float spatial_scale, int64_t pooled_h,
                                   int64_t pooled_w, int32_t aligned, char *err, int64_t err_len) {
    if (batch < 0 || channels < 0 || height < 0 || width < 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "%s: negative input size (%lld, %lld, %lld, %lld)", what, (long long)batch,
                               (long long)channels, (long long)height, (long long)width);
    if (n_rois < 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: negative roi count %lld", what,
                               (long long)n_rois);
    if (pooled_h <= 0 || pooled_w <= 0 || pooled_h > (1 << 20) || pooled_w > (1 << 20))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "%s: pooled size must be in [1, 2^20], got (%lld, %lld)", what, (long long)pooled_h,
                               (long long)pooled_w);
    if (!std::isfinite(spatial_scale))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: spatial_scale %g is not finite", what,
                               (double)spatial_scale);
    if (aligned != 0 && aligned != 1)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: aligned must be 0 or 1, got %d", what,
                               (int)aligned);
    if (n_rois > 0 && batch == 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: %lld rois but batch size 0", what,
                               (long long)n_rois);
    if (n_rois > 0 && rois == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: rois is NULL", what);
    return FRCNN_OK;
}

int32_t frcnn_check_roi_align_weights_args(const char *what, int64_t batch, int64_t height, int64_t width,
                                           const void *rois, int64_t n_rois, float spatial_scale, int64_t pooled_h,
                                           int64_t pooled_w, int32_t aligned, const int64_t *roi_offsets,
                                           int64_t n_entries, const int64_t *index, const float *weight, char *err,
                                           int64_t err_len) {
    int32_t rc = frcnn_check_roi_align_args(what, batch, 0, height, width, rois, n_rois, spatial_scale, pooled_h,
                                            pooled_w, aligned, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (n_entries < 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: negative n_entries", what);
    if (n_rois > 0 && roi_offsets == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: roi_offsets is NULL", what);
    if (n_entries > 0 && (index == nullptr || weight == nullptr))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: NULL index/weight pointer", what);
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_align_grid_cpu(const float *rois, int64_t n_rois, int64_t batch,
                                                      float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                                      int64_t sampling_ratio, int32_t aligned, int64_t *grid_hw,
                                                      char *err, int64_t err_len) {
    static const char *what = "roi_align_grid";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_align_args(what, batch, 0, 0, 0, rois, n_rois, spatial_scale, pooled_h, pooled_w,
                                            aligned, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (n_rois > 0 && grid_hw == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: grid_hw is NULL", what);
    rc = check_rois(what, rois, n_rois, batch, err, err_len);
    if (rc != FRCNN_OK) return rc;
    for (int64_t n = 0; n < n_rois; ++n) {
        const FrcnnAlignGeom g = frcnn_align_geom(rois + n * 5, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned);
        grid_hw[2 * n] = g.grid_h;
        grid_hw[2 * n + 1] = g.grid_w;
    }
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_align_forward_cpu(const float *input, int64_t batch, int64_t channels,
                                                         int64_t height, int64_t width, const float *rois,
                                                         int64_t n_rois, float spatial_scale, int64_t pooled_h,
                                                         int64_t pooled_w, int64_t sampling_ratio, int32_t aligned,
                                                         float *output, char *err, int64_t err_len) {
    static const char *what = "roi_align_forward";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_align_args(what, batch, channels, height, width, rois, n_rois, spatial_scale,
                                            pooled_h, pooled_w, aligned, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (n_rois == 0 || channels == 0) return FRCNN_OK;
    if (output == nullptr || (height > 0 && width > 0 && input == nullptr))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: NULL input/output pointer", what);
    rc = check_rois(what, rois, n_rois, batch, err, err_len);
    if (rc != FRCNN_OK) return rc;
    const int64_t bins = pooled_h * pooled_w;
    if (height == 0 || width == 0) { /* every sample is out of range or has no pixel: torchvision gives 0 */
        std::memset(output, 0, (size_t)(n_rois * channels * bins) * sizeof(float));
        return FRCNN_OK;
    }
    std::vector<RoiTable> tables;
    std::vector<FrcnnAlignSample> samples;
    double work = 0;
    rc = build_tables(what, rois, n_rois, height, width, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned,
                      tables, samples, &work, err, err_len);
    if (rc != FRCNN_OK) return rc;
    const int64_t plane = height * width;
    auto body = [&](int64_t c0, int64_t c1) {
        for (int64_t n = 0; n < n_rois; ++n) {
            const RoiTable &t = tables[(size_t)n];
            const int64_t s = frcnn_align_samples(t.geom);
            const int64_t gh = t.geom.grid_h, gw = t.geom.grid_w;
            const int64_t prod = gh * gw;
            const float count = (float)(prod > 1 ? prod : 1); /* std::max(roi_bin_grid_h * roi_bin_grid_w, 1) */
            for (int64_t c = c0; c < c1; ++c) {
                const float *in = input + (t.batch_index * channels + c) * plane;
                float *out = output + (n * channels + c) * bins;
                const FrcnnAlignSample *pc = samples.data() + t.offset;
                for (int64_t k = 0; k < bins; ++k) {
                    float acc = 0.0f;
                    for (int64_t j = 0; j < s; ++j, ++pc) {
                        /* torchvision adds every pre-computed sample, out-of-range ones as 0 * input[0] */
                        acc += pc->w[0] * in[pc->pos[0]] + pc->w[1] * in[pc->pos[1]] + pc->w[2] * in[pc->pos[2]] +
                               pc->w[3] * in[pc->pos[3]];
                    }
                    out[k] = acc / count;
                }
            }
        }
    };
    frcnn_parallel_ranges(channels, frcnn_thread_count(channels, work * (double)channels),
                          [&](int64_t b, int64_t e, int) { body(b, e); });
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_align_backward_cpu(const float *grad_output, const float *rois, int64_t n_rois,
                                                          int64_t batch, int64_t channels, int64_t height,
                                                          int64_t width, float spatial_scale, int64_t pooled_h,
                                                          int64_t pooled_w, int64_t sampling_ratio, int32_t aligned,
                                                          float *grad_input, char *err, int64_t err_len) {
    static const char *what = "roi_align_backward";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_align_args(what, batch, channels, height, width, rois, n_rois, spatial_scale,
                                            pooled_h, pooled_w, aligned, err, err_len);
    if (rc != FRCNN_OK) return rc;
    const int64_t plane = height * width;
    const int64_t total = batch * channels * plane;
    if (total > 0 && grad_input == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: grad_input is NULL", what);
    if (n_rois > 0 && channels > 0 && grad_output == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: grad_output is NULL", what);
    rc = check_rois(what, rois, n_rois, batch, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (total > 0) std::memset(grad_input, 0, (size_t)total * sizeof(float));
    if (n_rois == 0 || total == 0) return FRCNN_OK;
    std::vector<RoiTable> tables;
    std::vector<FrcnnAlignSample> samples;
    double work = 0;
    rc = build_tables(what, rois, n_rois, height, width, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned,
                      tables, samples, &work, err, err_len);
    if (rc != FRCNN_OK) return rc;
    const int64_t bins = pooled_h * pooled_w;
    auto body = [&](int64_t c0, int64_t c1) {
        for (int64_t n = 0; n < n_rois; ++n) {
            const RoiTable &t = tables[(size_t)n];
            const int64_t s = frcnn_align_samples(t.geom);
            if (s == 0) continue;
            const float count = (float)(t.geom.grid_h * t.geom.grid_w);
            for (int64_t c = c0; c < c1; ++c) {
                float *gi = grad_input + (t.batch_index * channels + c) * plane;
                const float *go = grad_output + (n * channels + c) * bins;
                const FrcnnAlignSample *pc = samples.data() + t.offset;
                for (int64_t k = 0; k < bins; ++k) {
                    const float g = go[k];
                    for (int64_t j = 0; j < s; ++j, ++pc) {
                        if (!pc->valid) continue;
                        gi[pc->pos[0]] += g * pc->w[0] / count;
                        gi[pc->pos[1]] += g * pc->w[1] / count;
                        gi[pc->pos[2]] += g * pc->w[2] / count;
                        gi[pc->pos[3]] += g * pc->w[3] / count;
                    }
                }
            }
        }
    };
    frcnn_parallel_ranges(channels, frcnn_thread_count(channels, work * (double)channels),
                          [&](int64_t b, int64_t e, int) { body(b, e); });
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_align_weights_cpu(const float *rois, int64_t n_rois, int64_t batch,
                                                         int64_t height, int64_t width, float spatial_scale,
                                                         int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                                         int32_t aligned, const int64_t *roi_offsets,
                                                         int64_t n_entries, int64_t *index, float *weight, char *err,
                                                         int64_t err_len) {
    static const char *what = "roi_align_weights";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_align_weights_args(what, batch, height, width, rois, n_rois, spatial_scale, pooled_h,
                                                    pooled_w, aligned, roi_offsets, n_entries, index, weight, err,
                                                    err_len);
    if (rc != FRCNN_OK) return rc;
    rc = check_rois(what, rois, n_rois, batch, err, err_len);
    if (rc != FRCNN_OK) return rc;
    const int64_t bins = pooled_h * pooled_w;
    const int64_t plane = height * width;
    const int64_t sentinel = batch * plane;
    for (int64_t n = 0; n < n_rois; ++n) {
        const float *r = rois + n * 5;
        const FrcnnAlignGeom g = frcnn_align_geom(r, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned);
        const int64_t s = frcnn_align_samples(g);
        const int64_t start = roi_offsets[n];
        if (s > 0 && (start < 0 || (double)s * (double)bins * 4.0 > (double)(n_entries - start)))
            return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                                   "%s: roi %lld owns %lld x %lld x 4 entries from %lld, beyond n_entries %lld", what,
                                   (long long)n, (long long)bins, (long long)s, (long long)start,
                                   (long long)n_entries);
        if (s == 0) continue;
        const int64_t base = (int64_t)r[0] * plane;
        int64_t e = start;
        for (int64_t ph = 0; ph < pooled_h; ++ph)
            for (int64_t pw = 0; pw < pooled_w; ++pw)
                for (int64_t iy = 0; iy < g.grid_h; ++iy) {
                    const float y = frcnn_align_coord(g.start_h, ph, g.bin_h, iy, g.grid_h);
                    for (int64_t ix = 0; ix < g.grid_w; ++ix) {
                        const float x = frcnn_align_coord(g.start_w, pw, g.bin_w, ix, g.grid_w);
                        const FrcnnAlignSample smp = height > 0 && width > 0
                                                         ? frcnn_align_sample(y, x, height, width)
                                                         : FrcnnAlignSample{{0, 0, 0, 0}, {0.f, 0.f, 0.f, 0.f}, false};
                        for (int k = 0; k < 4; ++k, ++e) {
                            index[e] = smp.valid ? base + smp.pos[k] : sentinel;
                            weight[e] = smp.valid ? smp.w[k] : 0.0f;
                        }
                    }
                }
    }
    return FRCNN_OK;
}
