/*
 * RoIAlign on CUDA with torchvision.ops.roi_align semantics
 * (torchvision/csrc/ops/cuda/roi_align_kernel.cu). The geometry and the bilinear weights are the CPU's
 * (roi_align_internal.h, float32, --fmad=false), so grid, weights and forward equal the CPU's exactly:
 * one thread per output cell sums its samples in (iy, ix) order as the CPU does. The backward
 * scatters with atomicAdd, so grad_input equals the CPU's up to summation order.
 * Invalid rois are detected on the device; every call therefore synchronises `stream`.
 */
#include <cfloat>
#include <climits>
#include <cstdint>

#include "cuda_common.h"
#include "roi_align_internal.h"

namespace {

struct AlignStatus {
    unsigned long long bad_roi;    /* first invalid roi (ULLONG_MAX: none) */
    unsigned long long bad_offset; /* first roi whose entries do not fit (weights only) */
};

int blocks_for(int64_t n, int threads) {
    int64_t g = (n + threads - 1) / threads;
    if (g < 1) g = 1;
    if (g > 65535 * 8) g = 65535 * 8;
    return (int)g;
}

__global__ void align_grid(const float *rois, int64_t n_rois, int64_t batch, float scale, int64_t pooled_h,
                           int64_t pooled_w, int64_t sampling_ratio, int32_t aligned, int64_t *grid_hw,
                           AlignStatus *status) {
    for (int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; n < n_rois; n += (int64_t)gridDim.x * blockDim.x) {
        const float *roi = rois + n * 5;
        if (!frcnn_roi_valid(roi, batch)) {
            atomicMin(&status->bad_roi, (unsigned long long)n);
            grid_hw[2 * n] = 0;
            grid_hw[2 * n + 1] = 0;
            continue;
        }
        const FrcnnAlignGeom g = frcnn_align_geom(roi, scale, pooled_h, pooled_w, sampling_ratio, aligned);
        grid_hw[2 * n] = g.grid_h;
        grid_hw[2 * n + 1] = g.grid_w;
    }
}

__global__ void align_fwd(const float *input, int64_t batch, int64_t channels, int64_t height, int64_t width,
                          const float *rois, int64_t n_rois, float scale, int64_t pooled_h, int64_t pooled_w,
                          int64_t sampling_ratio, int32_t aligned, float *output, AlignStatus *status) {
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
            continue;
        }
        const FrcnnAlignGeom g = frcnn_align_geom(roi, scale, pooled_h, pooled_w, sampling_ratio, aligned);
        const int64_t prod = g.grid_h * g.grid_w;
        const float count = (float)(prod > 1 ? prod : 1);
        const float *in = input + ((int64_t)roi[0] * channels + c) * height * width;
        float acc = 0.0f;
        if (frcnn_align_samples(g) > 0 && height > 0 && width > 0) {
            for (int64_t iy = 0; iy < g.grid_h; ++iy) {
                const float y = frcnn_align_coord(g.start_h, ph, g.bin_h, iy, g.grid_h);
                for (int64_t ix = 0; ix < g.grid_w; ++ix) {
                    const float x = frcnn_align_coord(g.start_w, pw, g.bin_w, ix, g.grid_w);
                    const FrcnnAlignSample s = frcnn_align_sample(y, x, height, width);
                    /* same terms as the CPU: out-of-range samples add 0 * input[0] */
                    acc += s.w[0] * in[s.pos[0]] + s.w[1] * in[s.pos[1]] + s.w[2] * in[s.pos[2]] +
                           s.w[3] * in[s.pos[3]];
                }
            }
        }
        output[idx] = acc / count;
    }
}

__global__ void align_bwd(const float *grad_output, const float *rois, int64_t n_rois, int64_t batch,
                          int64_t channels, int64_t height, int64_t width, float scale, int64_t pooled_h,
                          int64_t pooled_w, int64_t sampling_ratio, int32_t aligned, float *grad_input,
                          AlignStatus *status) {
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
            continue;
        }
        const FrcnnAlignGeom g = frcnn_align_geom(roi, scale, pooled_h, pooled_w, sampling_ratio, aligned);
        if (frcnn_align_samples(g) == 0) continue;
        const float count = (float)(g.grid_h * g.grid_w);
        const float go = grad_output[idx];
        float *gi = grad_input + ((int64_t)roi[0] * channels + c) * height * width;
        for (int64_t iy = 0; iy < g.grid_h; ++iy) {
            const float y = frcnn_align_coord(g.start_h, ph, g.bin_h, iy, g.grid_h);
            for (int64_t ix = 0; ix < g.grid_w; ++ix) {
                const float x = frcnn_align_coord(g.start_w, pw, g.bin_w, ix, g.grid_w);
                const FrcnnAlignSample s = frcnn_align_sample(y, x, height, width);
                if (!s.valid) continue;
                for (int k = 0; k < 4; ++k) atomicAdd(gi + s.pos[k], go * s.w[k] / count);
            }
        }
    }
}

__global__ void align_weights(const float *rois, int64_t n_rois, int64_t batch, int64_t height, int64_t width,
                              float scale, int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio, int32_t aligned,
                              const int64_t *roi_offsets, int64_t n_entries, int64_t *index, float *weight,
                              AlignStatus *status) {
    const int64_t bins = pooled_h * pooled_w;
    const int64_t total = n_rois * bins;
    const int64_t plane = height * width;
    const int64_t sentinel = batch * plane;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = idx / bins;
        const int64_t k = idx % bins;
        const int64_t ph = k / pooled_w, pw = k % pooled_w;
        const float *roi = rois + n * 5;
        if (!frcnn_roi_valid(roi, batch)) {
            atomicMin(&status->bad_roi, (unsigned long long)n);
            continue;
        }
        const FrcnnAlignGeom g = frcnn_align_geom(roi, scale, pooled_h, pooled_w, sampling_ratio, aligned);
        const int64_t s = frcnn_align_samples(g);
        if (s == 0) continue;
        const int64_t start = roi_offsets[n];
        if (start < 0 || (double)s * (double)bins * 4.0 > (double)(n_entries - start)) {
            atomicMin(&status->bad_offset, (unsigned long long)n);
            continue;
        }
        const int64_t base = (int64_t)roi[0] * plane;
        int64_t e = start + k * s * 4;
        for (int64_t iy = 0; iy < g.grid_h; ++iy) {
            const float y = frcnn_align_coord(g.start_h, ph, g.bin_h, iy, g.grid_h);
            for (int64_t ix = 0; ix < g.grid_w; ++ix) {
                const float x = frcnn_align_coord(g.start_w, pw, g.bin_w, ix, g.grid_w);
                FrcnnAlignSample smp;
                if (height > 0 && width > 0) {
                    smp = frcnn_align_sample(y, x, height, width);
                } else {
                    smp.valid = false;
                }
                for (int c = 0; c < 4; ++c, ++e) {
                    index[e] = smp.valid ? base + smp.pos[c] : sentinel;
                    weight[e] = smp.valid ? smp.w[c] : 0.0f;
                }
            }
        }
    }
}


/* Device checks common to every entry point: a usable device that owns `ptr`. */
int32_t enter_device(FrcnnDeviceScope &scope, const void *ptr, const char *what, char *err, int64_t err_len) {
    int32_t rc = frcnn_cuda_require_device(what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    return scope.enter(ptr, what, err, err_len);
}

}  // namespace

extern "C" FRCNN_API int32_t frcnn_roi_align_grid_cuda(const float *rois, int64_t n_rois, int64_t batch,
                                                       float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                                       int64_t sampling_ratio, int32_t aligned, int64_t *grid_hw,
                                                       void *stream_ptr, char *err, int64_t err_len) {
    static const char *what = "roi_align_grid_cuda";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_align_args(what, batch, 0, 0, 0, rois, n_rois, spatial_scale, pooled_h, pooled_w,
                                            aligned, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (n_rois > 0 && grid_hw == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: grid_hw is NULL", what);
    if (n_rois == 0) return frcnn_cuda_require_device(what, err, err_len);
    FrcnnDeviceScope device;
    rc = enter_device(device, grid_hw, what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    cudaStream_t stream = (cudaStream_t)stream_ptr;
    AlignStatus result;
    rc = frcnn_run_with_status(
        what, stream, &result,
        [&](AlignStatus *status) {
            align_grid<<<blocks_for(n_rois, 256), 256, 0, stream>>>(rois, n_rois, batch, spatial_scale, pooled_h,
                                                                    pooled_w, sampling_ratio, aligned, grid_hw, status);
            return cudaGetLastError();
        },
        err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (result.bad_roi != ULLONG_MAX) return frcnn_cuda_bad_roi_error(what, result.bad_roi, batch, err, err_len);
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_align_forward_cuda(const float *input, int64_t batch, int64_t channels,
                                                          int64_t height, int64_t width, const float *rois,
                                                          int64_t n_rois, float spatial_scale, int64_t pooled_h,
                                                          int64_t pooled_w, int64_t sampling_ratio, int32_t aligned,
                                                          float *output, void *stream_ptr, char *err,
                                                          int64_t err_len) {
    static const char *what = "roi_align_forward_cuda";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_align_args(what, batch, channels, height, width, rois, n_rois, spatial_scale,
                                            pooled_h, pooled_w, aligned, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (n_rois == 0 || channels == 0) return frcnn_cuda_require_device(what, err, err_len);
    if (output == nullptr || (height > 0 && width > 0 && input == nullptr))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: NULL input/output pointer", what);
    FrcnnDeviceScope device;
    rc = enter_device(device, output, what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    cudaStream_t stream = (cudaStream_t)stream_ptr;
    const int64_t total = n_rois * channels * pooled_h * pooled_w;
    AlignStatus result;
    rc = frcnn_run_with_status(
        what, stream, &result,
        [&](AlignStatus *status) {
            align_fwd<<<blocks_for(total, 256), 256, 0, stream>>>(input, batch, channels, height, width, rois, n_rois,
                                                                  spatial_scale, pooled_h, pooled_w, sampling_ratio,
                                                                  aligned, output, status);
            return cudaGetLastError();
        },
        err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (result.bad_roi != ULLONG_MAX) return frcnn_cuda_bad_roi_error(what, result.bad_roi, batch, err, err_len);
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_align_backward_cuda(const float *grad_output, const float *rois,
                                                           int64_t n_rois, int64_t batch, int64_t channels,
                                                           int64_t height, int64_t width, float spatial_scale,
                                                           int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                                           int32_t aligned, float *grad_input, void *stream_ptr,
                                                           char *err, int64_t err_len) {
    static const char *what = "roi_align_backward_cuda";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_align_args(what, batch, channels, height, width, rois, n_rois, spatial_scale,
                                            pooled_h, pooled_w, aligned, err, err_len);
    if (rc != FRCNN_OK) return rc;
    const int64_t total_in = batch * channels * height * width;
    if (total_in > 0 && grad_input == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: grad_input is NULL", what);
    if (n_rois > 0 && channels > 0 && grad_output == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: grad_output is NULL", what);
    if (total_in == 0) return frcnn_cuda_require_device(what, err, err_len);
    FrcnnDeviceScope device;
    rc = enter_device(device, grad_input, what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    cudaStream_t stream = (cudaStream_t)stream_ptr;
    FRCNN_CUDA_TRY(cudaMemsetAsync(grad_input, 0, (size_t)total_in * sizeof(float), stream), what, "memset");
    if (n_rois == 0) {
        FRCNN_CUDA_TRY(cudaStreamSynchronize(stream), what, "cudaStreamSynchronize");
        return FRCNN_OK;
    }
    const int64_t total = n_rois * channels * pooled_h * pooled_w;
    AlignStatus result;
    rc = frcnn_run_with_status(
        what, stream, &result,
        [&](AlignStatus *status) {
            align_bwd<<<blocks_for(total, 256), 256, 0, stream>>>(grad_output, rois, n_rois, batch, channels, height,
                                                                  width, spatial_scale, pooled_h, pooled_w,
                                                                  sampling_ratio, aligned, grad_input, status);
            return cudaGetLastError();
        },
        err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (result.bad_roi != ULLONG_MAX) return frcnn_cuda_bad_roi_error(what, result.bad_roi, batch, err, err_len);
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_align_weights_cuda(const float *rois, int64_t n_rois, int64_t batch,
                                                          int64_t height, int64_t width, float spatial_scale,
                                                          int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                                          int32_t aligned, const int64_t *roi_offsets,
                                                          int64_t n_entries, int64_t *index, float *weight,
                                                          void *stream_ptr, char *err, int64_t err_len) {
    static const char *what = "roi_align_weights_cuda";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_align_weights_args(what, batch, height, width, rois, n_rois, spatial_scale, pooled_h,
                                                    pooled_w, aligned, roi_offsets, n_entries, index, weight, err,
                                                    err_len);
    if (rc != FRCNN_OK) return rc;
    if (n_rois == 0) return frcnn_cuda_require_device(what, err, err_len);
    FrcnnDeviceScope device;
    rc = enter_device(device, roi_offsets, what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    cudaStream_t stream = (cudaStream_t)stream_ptr;
    const int64_t total = n_rois * pooled_h * pooled_w;
    AlignStatus result;
    rc = frcnn_run_with_status(
        what, stream, &result,
        [&](AlignStatus *status) {
            align_weights<<<blocks_for(total, 256), 256, 0, stream>>>(rois, n_rois, batch, height, width,
                                                                      spatial_scale, pooled_h, pooled_w,
                                                                      sampling_ratio, aligned, roi_offsets, n_entries,
                                                                      index, weight, status);
            return cudaGetLastError();
        },
        err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (result.bad_roi != ULLONG_MAX) return frcnn_cuda_bad_roi_error(what, result.bad_roi, batch, err, err_len);
    if (result.bad_offset != ULLONG_MAX)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "%s: the entries of roi %llu do not fit before n_entries %lld", what,
                               result.bad_offset, (long long)n_entries);
    return FRCNN_OK;
}
