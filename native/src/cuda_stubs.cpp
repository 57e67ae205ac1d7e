/* CUDA entry points of a library built without CUDA: they exist and say so (FRCNN_ERR_NO_CUDA). */
#include "frcnn_ops.h"
#include "ops_internal.h"

namespace {
int32_t no_cuda(const char *what, char *err, int64_t err_len) {
    return frcnn_set_error(err, err_len, FRCNN_ERR_NO_CUDA,
                           "%s: libfrcnn_ops was built without CUDA (rebuild with nvcc and -Dfrcnn.cuda=ON)", what);
}
}  // namespace

extern "C" FRCNN_API int32_t frcnn_cuda_device_count(void) { return 0; }

extern "C" FRCNN_API int32_t frcnn_nms_cuda(const float *, const float *, int64_t, double, int64_t, int64_t *,
                                            int64_t *n_keep, void *, char *err, int64_t err_len) {
    if (n_keep != nullptr) *n_keep = 0;
    return no_cuda("nms_cuda", err, err_len);
}

extern "C" FRCNN_API int32_t frcnn_roi_pool_forward_cuda(const float *, int64_t, int64_t, int64_t, int64_t,
                                                         const float *, int64_t, float, int64_t, int64_t, float *,
                                                         int64_t *, void *, char *err, int64_t err_len) {
    return no_cuda("roi_pool_forward_cuda", err, err_len);
}

extern "C" FRCNN_API int32_t frcnn_roi_pool_backward_cuda(const float *, const int64_t *, const float *, int64_t,
                                                          int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                                          float *, void *, char *err, int64_t err_len) {
    return no_cuda("roi_pool_backward_cuda", err, err_len);
}
