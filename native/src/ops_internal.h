/* Internal helpers shared by the CPU and CUDA sources (not part of the ABI). */
#ifndef FRCNN_OPS_INTERNAL_H
#define FRCNN_OPS_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include "frcnn_ops.h"

#if defined(__CUDACC__)
#define FRCNN_HD __host__ __device__ __forceinline__
#else
#define FRCNN_HD inline
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* printf-style: writes the message into err (if err != NULL and err_len > 0), returns code. */
int32_t frcnn_set_error(char *err, int64_t err_len, int32_t code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#ifdef __cplusplus
}
#endif

/* Clears the error buffer (empty string). */
static inline void frcnn_clear_error(char *err, int64_t err_len) {
    if (err != 0 && err_len > 0) err[0] = '\0';
}

/* Largest float32 t with t <= thr: for every float32 x (NaN included), (double)x > thr <=> x > t. */
float frcnn_float_threshold_below(double thr);

/* Common argument checks of the NMS entry points (CPU and CUDA); FRCNN_OK or an error code. */
int32_t frcnn_check_nms_args(const void *boxes, const void *scores, int64_t n, double iou_threshold,
                             const void *keep, const void *n_keep, char *err, int64_t err_len);

/* Common argument checks of the RoIPool entry points; FRCNN_OK or an error code. */
int32_t frcnn_check_roi_pool_args(const void *input, int64_t batch, int64_t channels, int64_t height,
                                  int64_t width, const void *rois, int64_t n_rois, float spatial_scale,
                                  int64_t pooled_h, int64_t pooled_w, const void *output,
                                  const void *argmax, char *err, int64_t err_len);

/* Bound for rounded RoI corners (cells): keeps every int32 computation of the geometry defined. */
#define FRCNN_ROI_COORD_LIMIT 1073741824.0f /* 2^30 */

/*
 * torchvision's RoIPool geometry for one roi (CPU kernel, float32):
 * start/end = round(coord * scale) (half away from zero), clamped to +-2^30 so that the integer
 * arithmetic stays defined for absurd coordinates (the clamp never changes a roi within +-2^30 cells);
 * roi_w = max(end_w - start_w + 1, 1); bin = (float) roi / pooled.
 */
struct FrcnnRoiGeom {
    int32_t start_h, start_w;
    float bin_h, bin_w;
};

FRCNN_HD float frcnn_clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

FRCNN_HD FrcnnRoiGeom frcnn_roi_geom(const float *roi, float spatial_scale, int64_t pooled_h,
                                     int64_t pooled_w) {
    const float L = FRCNN_ROI_COORD_LIMIT;
    int32_t sw = (int32_t)frcnn_clampf(roundf(roi[1] * spatial_scale), -L, L);
    int32_t sh = (int32_t)frcnn_clampf(roundf(roi[2] * spatial_scale), -L, L);
    int32_t ew = (int32_t)frcnn_clampf(roundf(roi[3] * spatial_scale), -L, L);
    int32_t eh = (int32_t)frcnn_clampf(roundf(roi[4] * spatial_scale), -L, L);
    int64_t rw = (int64_t)ew - sw + 1;
    int64_t rh = (int64_t)eh - sh + 1;
    if (rw < 1) rw = 1;
    if (rh < 1) rh = 1;
    FrcnnRoiGeom g;
    g.start_h = sh;
    g.start_w = sw;
    g.bin_h = (float)rh / (float)pooled_h;
    g.bin_w = (float)rw / (float)pooled_w;
    return g;
}

FRCNN_HD int64_t frcnn_clip_i64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Bin [start, end) along one axis, clipped to [0, size]. */
FRCNN_HD void frcnn_roi_bin(int64_t p, float bin, int32_t roi_start, int64_t size, int64_t *start,
                            int64_t *end) {
    int64_t s = (int64_t)floorf((float)p * bin);
    int64_t e = (int64_t)ceilf((float)(p + 1) * bin);
    *start = frcnn_clip_i64(s + roi_start, 0, size);
    *end = frcnn_clip_i64(e + roi_start, 0, size);
}

/* True if the roi's batch index is an integer in [0, batch) and its coordinates are finite. */
FRCNN_HD bool frcnn_roi_valid(const float *roi, int64_t batch) {
    float b = roi[0];
    if (!(b >= 0.0f) || !(b < (float)batch) || b != floorf(b)) return false;
    for (int k = 1; k < 5; ++k) {
        float v = roi[k];
        if (!(v == v) || v == INFINITY || v == -INFINITY) return false;
    }
    return true;
}

#endif
