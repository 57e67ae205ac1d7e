/*
 * RoIPool forward/backward on CUDA with torchvision.ops.roi_pool semantics
 * (torchvision/csrc/ops/cuda/roi_pool_kernel.cu): one thread per output cell; the geometry is the
 * CPU's (ops_internal.h, float32, --fmad=false), so output and argmax equal the CPU's exactly.
 * The backward scatters with atomicAdd, so grad_input equals the CPU's up to summation order.
 * Invalid rois (batch index, non-finite coordinates) and argmax values are detected on the device;
 * both calls therefore synchronise `stream` before they return.
 */
#include <cfloat>
#include <climits>
#include <cstdint>

#include "cuda_common.h"

namespace {

struct RoiStatus {
    unsigned long long bad_roi;    /* first invalid roi (ULLONG_MAX: none) */
    unsigned long long bad_argmax; /* first invalid argmax flat index (ULLONG_MAX: none) */
};

int grid_for(int64_t n, int threads) {
    int64_t g = (n + threads - 1) / threads;
    if (g < 1) g = 1;
    if (g > 65535 * 8) g = 65535 * 8;
    return (int)g;
}

__global__ void roi_pool_fwd(const float *input, int64_t batch, int64_t channels, int64_t height, int64_t width,
                             const float *rois, int64_t n_rois, float scale, int64_t pooled_h, int64_t pooled_w,
                             float *output, int64_t *argmax, RoiStatus *status) {
    const int64_t total = n_rois * channels * pooled_h * pooled_w;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t pw = idx % pooled_w;
        const int64_t ph = (idx / pooled_w) % pooled_h;
        const int64_t c = (idx / (pooled_w * pooled_h)) % channels;
        const int64_t n = idx / (pooled_w * pooled_h * channels);
        const float *roi = rois + n * 5;
        if (!frcnn_roi_valid(roi, batch)) {
            atomicMin(&status->bad_roi, (unsigned long long)n);
            output[idx] = 0.0f;
            if (argmax != nullptr) argmax[idx] = -1;
            continue;
        }
        const FrcnnRoiGeom g = frcnn_roi_geom(roi, scale, pooled_h, pooled_w);
        int64_t hs, he, ws, we;
        frcnn_roi_bin(ph, g.bin_h, g.start_h, height, &hs, &he);
        frcnn_roi_bin(pw, g.bin_w, g.start_w, width, &ws, &we);
        const bool empty = (he <= hs) || (we <= ws);
        float maxval = empty ? 0.0f : -FLT_MAX;
        int64_t maxidx = -1;
        const float *in = input + ((int64_t)roi[0] * channels + c) * height * width;
        for (int64_t h = hs; h < he; ++h) {
            for (int64_t w = ws; w < we; ++w) {
                const float v = in[h * width + w];
                if (v > maxval) {
                    maxval = v;
                    maxidx = h * width + w;
                }
            }
        }
        output[idx] = maxval;
        if (argmax != nullptr) argmax[idx] = maxidx;
    }
}

__global__ void roi_pool_bwd(const float *grad_output, const int64_t *argmax, const float *rois, int64_t n_rois,
                             int64_t batch, int64_t channels, int64_t height, int64_t width, int64_t pooled_h,
                             int64_t pooled_w, float *grad_input, RoiStatus *status) {
    const int64_t total = n_rois * channels * pooled_h * pooled_w;
    const int64_t plane = height * width;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = (idx / (pooled_w * pooled_h)) % channels;
        const int64_t n = idx / (pooled_w * pooled_h * channels);
        const float *roi = rois + n * 5;
        if (!frcnn_roi_valid(roi, batch)) {
            atomicMin(&status->bad_roi, (unsigned long long)n);
            continue;
        }
        const int64_t a = argmax[idx];
        if (a == -1) continue;
        if (a < 0 || a >= plane) {
            atomicMin(&status->bad_argmax, (unsigned long long)idx);
            continue;
        }
        atomicAdd(grad_input + ((int64_t)roi[0] * channels + c) * plane + a, grad_output[idx]);
    }
}


}  // namespace

extern "C" FRCNN_API int32_t frcnn_roi_pool_forward_cuda(const float *input, int64_t batch, int64_t channels,
                                                         int64_t height, int64_t width, const float *rois,
                                                         int64_t n_rois, float spatial_scale, int64_t pooled_h,
                                                         int64_t pooled_w, float *output, int64_t *argmax,
                                                         void *stream_ptr, char *err, int64_t err_len) {
    static const char *what = "roi_pool_forward_cuda";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_pool_args(input, batch, channels, height, width, rois, n_rois, spatial_scale,
                                           pooled_h, pooled_w, output, argmax, err, err_len);
    if (rc != FRCNN_OK) return rc;
    rc = frcnn_cuda_require_device(what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (n_rois == 0 || channels == 0) return FRCNN_OK;
    FrcnnDeviceScope device;
    rc = device.enter(output, what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    cudaStream_t stream = (cudaStream_t)stream_ptr;
    const int64_t total = n_rois * channels * pooled_h * pooled_w;
    RoiStatus result;
    rc = frcnn_run_with_status(
        what, stream, &result,
        [&](RoiStatus *status) {
            roi_pool_fwd<<<grid_for(total, 256), 256, 0, stream>>>(input, batch, channels, height, width, rois, n_rois,
                                                                   spatial_scale, pooled_h, pooled_w, output, argmax,
                                                                   status);
            return cudaGetLastError();
        },
        err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (result.bad_roi != ULLONG_MAX) return frcnn_cuda_bad_roi_error(what, result.bad_roi, batch, err, err_len);
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_pool_backward_cuda(const float *grad_output, const int64_t *argmax,
                                                          const float *rois, int64_t n_rois, int64_t batch,
                                                          int64_t channels, int64_t height, int64_t width,
                                                          int64_t pooled_h, int64_t pooled_w, float *grad_input,
                                                          void *stream_ptr, char *err, int64_t err_len) {
    static const char *what = "roi_pool_backward_cuda";
    frcnn_clear_error(err, err_len);
    if (batch < 0 || channels < 0 || height < 0 || width < 0 || n_rois < 0 || pooled_h <= 0 || pooled_w <= 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "%s: bad sizes (n_rois %lld, input (%lld, %lld, %lld, %lld), pooled (%lld, %lld))", what,
                               (long long)n_rois, (long long)batch, (long long)channels, (long long)height,
                               (long long)width, (long long)pooled_h, (long long)pooled_w);
    const int64_t total_in = batch * channels * height * width;
    if (total_in > 0 && grad_input == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: grad_input is NULL", what);
    if (n_rois > 0 && channels > 0 && (grad_output == nullptr || argmax == nullptr || rois == nullptr))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: NULL grad_output/argmax/rois pointer",
                               what);
    int32_t rc = frcnn_cuda_require_device(what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (total_in == 0) return FRCNN_OK;
    FrcnnDeviceScope device;
    rc = device.enter(grad_input, what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    cudaStream_t stream = (cudaStream_t)stream_ptr;
    FRCNN_CUDA_TRY(cudaMemsetAsync(grad_input, 0, (size_t)total_in * sizeof(float), stream), what, "memset");
    if (n_rois == 0 || channels == 0) {
        FRCNN_CUDA_TRY(cudaStreamSynchronize(stream), what, "cudaStreamSynchronize");
        return FRCNN_OK;
    }
    const int64_t total = n_rois * channels * pooled_h * pooled_w;
    RoiStatus result;
    rc = frcnn_run_with_status(
        what, stream, &result,
        [&](RoiStatus *status) {
            roi_pool_bwd<<<grid_for(total, 256), 256, 0, stream>>>(grad_output, argmax, rois, n_rois, batch, channels,
                                                                   height, width, pooled_h, pooled_w, grad_input,
                                                                   status);
            return cudaGetLastError();
        },
        err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (result.bad_roi != ULLONG_MAX) return frcnn_cuda_bad_roi_error(what, result.bad_roi, batch, err, err_len);
    if (result.bad_argmax != ULLONG_MAX)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "%s: argmax[%llu] is outside [-1, %lld)", what, result.bad_argmax,
                               (long long)(height * width));
    return FRCNN_OK;
}
