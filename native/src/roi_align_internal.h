/*
 * RoIAlign geometry and bilinear sampling shared by the CPU and CUDA sources (not part of the ABI).
 * Everything mirrors torchvision/csrc/ops/{cpu,cuda}/roi_align_kernel.* in float32, in the same
 * order; the build disables floating-point contraction (-ffp-contract=off, nvcc --fmad=false) so
 * that CPU and CUDA round identically.
 */
#ifndef FRCNN_ROI_ALIGN_INTERNAL_H
#define FRCNN_ROI_ALIGN_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "ops_internal.h"

/* Bound of an adaptive grid size: keeps the float-to-int conversion defined for absurd rois. */
#define FRCNN_ALIGN_GRID_LIMIT 1073741824.0f /* 2^30 */

struct FrcnnAlignGeom {
    float start_h, start_w; /* roi start in feature cells (after the aligned offset) */
    float bin_h, bin_w;     /* bin size in feature cells */
    int64_t grid_h, grid_w; /* samples per bin along each axis (torchvision's raw value, may be <= 0) */
};

/* (int) ceil(v) with v clamped to +-2^30 (NaN gives 0). */
FRCNN_HD int64_t frcnn_align_ceil(float v) {
    if (!(v == v)) return 0;
    return (int64_t)ceilf(frcnn_clampf(v, -FRCNN_ALIGN_GRID_LIMIT, FRCNN_ALIGN_GRID_LIMIT));
}

FRCNN_HD FrcnnAlignGeom frcnn_align_geom(const float *roi, float spatial_scale, int64_t pooled_h,
                                         int64_t pooled_w, int64_t sampling_ratio, int32_t aligned) {
    const float offset = aligned ? 0.5f : 0.0f;
    const float start_w = roi[1] * spatial_scale - offset;
    const float start_h = roi[2] * spatial_scale - offset;
    const float end_w = roi[3] * spatial_scale - offset;
    const float end_h = roi[4] * spatial_scale - offset;
    float roi_w = end_w - start_w;
    float roi_h = end_h - start_h;
    if (!aligned) {
        roi_w = roi_w > 1.0f ? roi_w : 1.0f; /* std::max(roi_width, (T)1.) */
        roi_h = roi_h > 1.0f ? roi_h : 1.0f;
    }
    FrcnnAlignGeom g;
    g.start_h = start_h;
    g.start_w = start_w;
    g.bin_h = roi_h / (float)pooled_h;
    g.bin_w = roi_w / (float)pooled_w;
    g.grid_h = sampling_ratio > 0 ? sampling_ratio : frcnn_align_ceil(roi_h / (float)pooled_h);
    g.grid_w = sampling_ratio > 0 ? sampling_ratio : frcnn_align_ceil(roi_w / (float)pooled_w);
    return g;
}

/* Number of samples per bin (0 when a grid size is <= 0). */
FRCNN_HD int64_t frcnn_align_samples(const FrcnnAlignGeom &g) {
    return (g.grid_h > 0 && g.grid_w > 0) ? g.grid_h * g.grid_w : 0;
}

/* Sample coordinate: (start + p * bin) + ((i + 0.5) * bin) / grid, float32 in this order. */
FRCNN_HD float frcnn_align_coord(float start, int64_t p, float bin, int64_t i, int64_t grid) {
    return start + (float)p * bin + ((float)i + 0.5f) * bin / (float)grid;
}

/* One bilinear sample: 4 corner offsets inside the (height, width) plane and their weights. */
struct FrcnnAlignSample {
    int64_t pos[4];
    float w[4];
    bool valid; /* false: outside [-1, height] x [-1, width]; pos/w are then 0 */
};

FRCNN_HD FrcnnAlignSample frcnn_align_sample(float y, float x, int64_t height, int64_t width) {
    FrcnnAlignSample s;
    if (y < -1.0f || y > (float)height || x < -1.0f || x > (float)width) {
        for (int k = 0; k < 4; ++k) {
            s.pos[k] = 0;
            s.w[k] = 0.0f;
        }
        s.valid = false;
        return s;
    }
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int64_t y_low = (int64_t)y;
    int64_t x_low = (int64_t)x;
    int64_t y_high, x_high;
    if (y_low >= height - 1) {
        y_high = y_low = height - 1;
        y = (float)y_low;
    } else {
        y_high = y_low + 1;
    }
    if (x_low >= width - 1) {
        x_high = x_low = width - 1;
        x = (float)x_low;
    } else {
        x_high = x_low + 1;
    }
    const float ly = y - (float)y_low;
    const float lx = x - (float)x_low;
    const float hy = (float)(1. - (double)ly); /* torchvision: T hy = 1. - ly (double literal) */
    const float hx = (float)(1. - (double)lx);
    s.pos[0] = y_low * width + x_low;
    s.pos[1] = y_low * width + x_high;
    s.pos[2] = y_high * width + x_low;
    s.pos[3] = y_high * width + x_high;
    s.w[0] = hy * hx;
    s.w[1] = hy * lx;
    s.w[2] = ly * hx;
    s.w[3] = ly * lx;
    s.valid = true;
    return s;
}

/* Common argument checks of the RoIAlign entry points (sizes, pointers, scale); FRCNN_OK or an error. */
int32_t frcnn_check_roi_align_args(const char *what, int64_t batch, int64_t channels, int64_t height,
                                   int64_t width, const void *rois, int64_t n_rois, float spatial_scale,
                                   int64_t pooled_h, int64_t pooled_w, int32_t aligned, char *err,
                                   int64_t err_len);

/* The checks of frcnn_check_roi_align_args plus those of the weights entry points (offsets and output
 * buffers); FRCNN_OK or an error. */
int32_t frcnn_check_roi_align_weights_args(const char *what, int64_t batch, int64_t height, int64_t width,
                                           const void *rois, int64_t n_rois, float spatial_scale, int64_t pooled_h,
                                           int64_t pooled_w, int32_t aligned, const int64_t *roi_offsets,
                                           int64_t n_entries, const int64_t *index, const float *weight, char *err,
                                           int64_t err_len);

#endif
