/* ABI version, build flags, error messages and argument checks shared by all entry points. */
#include "frcnn_ops.h"
#include "ops_internal.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>

extern "C" FRCNN_API int32_t frcnn_abi_version(void) { return FRCNN_ABI_VERSION; }

extern "C" FRCNN_API int32_t frcnn_built_with_cuda(void) {
#if defined(FRCNN_WITH_CUDA)
    return 1;
#else
    return 0;
#endif
}

extern "C" int32_t frcnn_set_error(char *err, int64_t err_len, int32_t code, const char *fmt, ...) {
    if (err != nullptr && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(err, (size_t)err_len, fmt, ap);
        va_end(ap);
        err[err_len - 1] = '\0';
    }
    return code;
}

float frcnn_float_threshold_below(double thr) {
    float t = (float)thr; /* round to nearest (inf beyond the float range) */
    if ((double)t > thr) t = std::nextafter(t, -INFINITY);
    return t;
}

int32_t frcnn_check_nms_args(const void *boxes, const void *scores, int64_t n, double iou_threshold,
                             const void *keep, const void *n_keep, char *err, int64_t err_len) {
    if (n < 0) return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "nms: negative box count %lld", (long long)n);
    if (n_keep == nullptr) return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "nms: n_keep is NULL");
    if (n > 0 && (boxes == nullptr || scores == nullptr || keep == nullptr))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "nms: NULL pointer (boxes %p, scores %p, keep %p) for %lld boxes", boxes, scores, keep,
                               (long long)n);
    if (std::isnan(iou_threshold))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "nms: iou_threshold is NaN");
    return FRCNN_OK;
}

int32_t frcnn_check_roi_pool_args(const void *input, int64_t batch, int64_t channels, int64_t height,
                                  int64_t width, const void *rois, int64_t n_rois, float spatial_scale,
                                  int64_t pooled_h, int64_t pooled_w, const void *output,
                                  const void *argmax, char *err, int64_t err_len) {
    if (batch < 0 || channels < 0 || height < 0 || width < 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "roi_pool: negative input size (%lld, %lld, %lld, %lld)", (long long)batch,
                               (long long)channels, (long long)height, (long long)width);
    if (n_rois < 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "roi_pool: negative roi count %lld",
                               (long long)n_rois);
    if (pooled_h <= 0 || pooled_w <= 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "roi_pool: pooled size must be positive, got (%lld, %lld)", (long long)pooled_h,
                               (long long)pooled_w);
    if (pooled_h > (1 << 20) || pooled_w > (1 << 20))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "roi_pool: pooled size (%lld, %lld) too large",
                               (long long)pooled_h, (long long)pooled_w);
    if (!std::isfinite(spatial_scale))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "roi_pool: spatial_scale %g is not finite",
                               (double)spatial_scale);
    if (n_rois > 0 && batch == 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "roi_pool: %lld rois but batch size 0",
                               (long long)n_rois);
    (void)argmax; /* may be NULL: the output alone is computed */
    if (n_rois > 0 && (rois == nullptr || output == nullptr))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "roi_pool: NULL rois/output pointer");
    if (n_rois > 0 && channels > 0 && height > 0 && width > 0 && input == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "roi_pool: NULL input pointer");
    return FRCNN_OK;
}
