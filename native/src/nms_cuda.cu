/*
 * NMS on CUDA with torchvision.ops.nms semantics, in torchvision's bit-mask style
 * (torchvision/csrc/ops/cuda/nms_kernel.cu), with three differences that make it decide exactly
 * as the CPU version:
 * - the scores are sorted with a STABLE radix sort (cub::DeviceRadixSort::SortPairsDescending;
 *   -0.0 is turned into +0.0 first), so tied scores keep their index order;
 * - the IoU is computed in float32 with the CPU's operations in the CPU's order, with the areas
 *   precomputed as (a2 - a1) * (b2 - b1), and compared as iou > t with t the largest float32 <=
 *   the double threshold (the same test as (double) iou > thr); the build uses --fmad=false;
 * - the greedy reduction over the mask runs on the device (one block), honouring max_keep.
 */
#include <cub/device/device_radix_sort.cuh>

#include <climits>
#include <cstdint>

#include "cuda_common.h"

namespace {

constexpr int kBlock = 64; /* boxes per mask word */
constexpr int kReduceThreads = 256;

struct NmsStatus {
    unsigned long long nan_at; /* first NaN score index (ULLONG_MAX: none) */
    long long kept;
};

__global__ void prepare_keys(const float *scores, int n, float *keys, int *vals, NmsStatus *status) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float s = scores[i];
        if (s != s) atomicMin(&status->nan_at, (unsigned long long)i);
        keys[i] = s + 0.0f; /* -0.0 -> +0.0, so that it ties with +0.0 as in torch's sort */
        vals[i] = i;
    }
}

__global__ void gather_sorted(const float *boxes, const int *order, int n, float4 *sorted, float *area) {
    for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < n; k += gridDim.x * blockDim.x) {
        const float *b = boxes + (int64_t)order[k] * 4;
        float4 v = make_float4(b[0], b[1], b[2], b[3]);
        sorted[k] = v;
        area[k] = (v.z - v.x) * (v.w - v.y);
    }
}

/* iou(i, j) > t with the CPU's float operations (i: the earlier box). */
__device__ __forceinline__ bool iou_above(float4 i, float iarea, float4 j, float jarea, float t) {
    float m1 = (i.x < j.x) ? j.x : i.x;
    float n1 = (i.y < j.y) ? j.y : i.y;
    float m2 = (j.z < i.z) ? j.z : i.z;
    float n2 = (j.w < i.w) ? j.w : i.w;
    float dw = __fsub_rn(m2, m1), dh = __fsub_rn(n2, n1);
    float w = (0.0f < dw) ? dw : 0.0f;
    float h = (0.0f < dh) ? dh : 0.0f;
    float inter = __fmul_rn(w, h);
    float ovr = __fdiv_rn(inter, __fsub_rn(__fadd_rn(iarea, jarea), inter));
    return ovr > t;
}

/* mask[i * col_blocks + cb] bit k: box (cb * 64 + k) comes after box i and iou(i, it) > t. */
__global__ void nms_mask(const float4 *sorted, const float *area, int n, int col_blocks, float t,
                         unsigned long long *mask) {
    const int row_start = blockIdx.y, col_start = blockIdx.x;
    if (row_start > col_start) return;
    const int row_size = min(n - row_start * kBlock, kBlock);
    const int col_size = min(n - col_start * kBlock, kBlock);
    __shared__ float4 cb[kBlock];
    __shared__ float ca[kBlock];
    if ((int)threadIdx.x < col_size) {
        cb[threadIdx.x] = sorted[col_start * kBlock + threadIdx.x];
        ca[threadIdx.x] = area[col_start * kBlock + threadIdx.x];
    }
    __syncthreads();
    if ((int)threadIdx.x < row_size) {
        const int cur = row_start * kBlock + threadIdx.x;
        const float4 b = sorted[cur];
        const float a = area[cur];
        unsigned long long bits = 0;
        const int start = (row_start == col_start) ? (int)threadIdx.x + 1 : 0;
        for (int k = start; k < col_size; ++k) {
            if (iou_above(b, a, cb[k], ca[k], t)) bits |= 1ULL << k;
        }
        mask[(int64_t)cur * col_blocks + col_start] = bits;
    }
}

/* Greedy pass over the mask in sorted order (one block). remv must be zeroed. */
__global__ void nms_reduce(const unsigned long long *mask, int n, int col_blocks, const int *order,
                           long long limit, unsigned long long *remv, int64_t *keep, NmsStatus *status) {
    __shared__ unsigned long long diag[kBlock];
    __shared__ int rows[kBlock];
    __shared__ int n_rows;
    __shared__ long long kept;
    if (threadIdx.x == 0) kept = 0;
    for (int nb = 0; nb < col_blocks; ++nb) {
        const int size = min(n - nb * kBlock, kBlock);
        if ((int)threadIdx.x < size) diag[threadIdx.x] = mask[(int64_t)(nb * kBlock + threadIdx.x) * col_blocks + nb];
        __syncthreads();
        if (threadIdx.x == 0) {
            int nr = 0;
            unsigned long long removed = remv[nb];
            for (int r = 0; r < size && kept < limit; ++r) {
                if (!((removed >> r) & 1ULL)) {
                    keep[kept++] = (int64_t)order[nb * kBlock + r];
                    rows[nr++] = r;
                    removed |= diag[r];
                }
            }
            n_rows = nr;
        }
        __syncthreads();
        if (kept >= limit) break;
        const int nr = n_rows;
        for (int c = nb + 1 + (int)threadIdx.x; c < col_blocks; c += blockDim.x) {
            unsigned long long acc = remv[c];
            for (int k = 0; k < nr; ++k) acc |= mask[(int64_t)(nb * kBlock + rows[k]) * col_blocks + c];
            remv[c] = acc;
        }
        __syncthreads(); /* remv and the shared arrays are reused in the next round */
    }
    if (threadIdx.x == 0) status->kept = kept;
}

size_t align_up(size_t v) { return (v + 255) & ~(size_t)255; }

int grid_for(int64_t n, int threads) {
    int64_t g = (n + threads - 1) / threads;
    if (g < 1) g = 1;
    if (g > 65535) g = 65535;
    return (int)g;
}

}  // namespace

extern "C" FRCNN_API int32_t frcnn_nms_cuda(const float *boxes, const float *scores, int64_t n, double iou_threshold,
                                            int64_t max_keep, int64_t *keep, int64_t *n_keep, void *stream_ptr,
                                            char *err, int64_t err_len) {
    static const char *what = "nms_cuda";
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_nms_args(boxes, scores, n, iou_threshold, keep, n_keep, err, err_len);
    if (rc != FRCNN_OK) return rc;
    *n_keep = 0;
    rc = frcnn_cuda_require_device(what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (n == 0) return FRCNN_OK;
    if (n > (int64_t)INT_MAX - kBlock)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: %lld boxes are too many", what,
                               (long long)n);
    FrcnnDeviceScope device;
    rc = device.enter(boxes, what, err, err_len);
    if (rc != FRCNN_OK) return rc;
    cudaStream_t stream = (cudaStream_t)stream_ptr;
    const int ni = (int)n;
    const int col_blocks = (ni + kBlock - 1) / kBlock;
    if (col_blocks > 65535)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: %lld boxes are too many for the mask grid",
                               what, (long long)n);
    const long long limit = (max_keep < 0 || max_keep > n) ? (long long)n : (long long)max_keep;
    const float t = frcnn_float_threshold_below(iou_threshold);

    /* temporary layout */
    size_t sort_bytes = 0;
    FRCNN_CUDA_TRY(cub::DeviceRadixSort::SortPairsDescending(nullptr, sort_bytes, (const float *)nullptr,
                                                             (float *)nullptr, (const int *)nullptr, (int *)nullptr,
                                                             ni, 0, 32, stream),
                   what, "cub sort size query");
    const size_t mask_words = (size_t)ni * (size_t)col_blocks;
    size_t off = 0;
    const size_t o_status = off; off = align_up(off + sizeof(NmsStatus));
    const size_t o_keys = off;   off = align_up(off + (size_t)ni * sizeof(float));
    const size_t o_keys2 = off;  off = align_up(off + (size_t)ni * sizeof(float));
    const size_t o_vals = off;   off = align_up(off + (size_t)ni * sizeof(int));
    const size_t o_vals2 = off;  off = align_up(off + (size_t)ni * sizeof(int));
    const size_t o_boxes = off;  off = align_up(off + (size_t)ni * sizeof(float4));
    const size_t o_area = off;   off = align_up(off + (size_t)ni * sizeof(float));
    const size_t o_remv = off;   off = align_up(off + (size_t)col_blocks * sizeof(unsigned long long));
    const size_t o_mask = off;   off = align_up(off + mask_words * sizeof(unsigned long long));
    const size_t o_sort = off;   off = align_up(off + sort_bytes);

    FrcnnDeviceBuffer tmp(stream);
    FRCNN_CUDA_TRY(tmp.alloc(off), what, "temporary allocation");
    char *base = (char *)tmp.get();
    NmsStatus *status = (NmsStatus *)(base + o_status);
    float *keys = (float *)(base + o_keys), *keys2 = (float *)(base + o_keys2);
    int *vals = (int *)(base + o_vals), *vals2 = (int *)(base + o_vals2);
    float4 *sorted = (float4 *)(base + o_boxes);
    float *area = (float *)(base + o_area);
    unsigned long long *remv = (unsigned long long *)(base + o_remv);
    unsigned long long *mask = (unsigned long long *)(base + o_mask);

    NmsStatus init;
    init.nan_at = ULLONG_MAX;
    init.kept = 0;
    NmsStatus result = init;
    FRCNN_CUDA_TRY(cudaMemcpyAsync(status, &init, sizeof(init), cudaMemcpyHostToDevice, stream), what, "status upload");
    FRCNN_CUDA_TRY(cudaMemsetAsync(remv, 0, (size_t)col_blocks * sizeof(unsigned long long), stream), what, "memset");
    prepare_keys<<<grid_for(ni, 256), 256, 0, stream>>>(scores, ni, keys, vals, status);
    FRCNN_CUDA_TRY(cudaGetLastError(), what, "prepare_keys launch");
    FRCNN_CUDA_TRY(cub::DeviceRadixSort::SortPairsDescending(base + o_sort, sort_bytes, keys, keys2, vals, vals2, ni, 0,
                                                             32, stream),
                   what, "cub::DeviceRadixSort::SortPairsDescending");
    gather_sorted<<<grid_for(ni, 256), 256, 0, stream>>>(boxes, vals2, ni, sorted, area);
    FRCNN_CUDA_TRY(cudaGetLastError(), what, "gather launch");
    if (limit > 0) {
        dim3 grid(col_blocks, col_blocks);
        nms_mask<<<grid, kBlock, 0, stream>>>(sorted, area, ni, col_blocks, t, mask);
        FRCNN_CUDA_TRY(cudaGetLastError(), what, "mask kernel launch");
        nms_reduce<<<1, kReduceThreads, 0, stream>>>(mask, ni, col_blocks, vals2, limit, remv, keep, status);
        FRCNN_CUDA_TRY(cudaGetLastError(), what, "reduce kernel launch");
    }
    FRCNN_CUDA_TRY(cudaMemcpyAsync(&result, status, sizeof(result), cudaMemcpyDeviceToHost, stream), what,
                   "status download");
    FRCNN_CUDA_TRY(tmp.release(), what, "free");
    FRCNN_CUDA_TRY(cudaStreamSynchronize(stream), what, "cudaStreamSynchronize");
    if (result.nan_at != ULLONG_MAX)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: score %llu is NaN", what, result.nan_at);
    *n_keep = (int64_t)result.kept;
    return FRCNN_OK;
}
