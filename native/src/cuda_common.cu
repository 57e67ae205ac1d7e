/* Device discovery and error mapping for the CUDA entry points. */
#include "cuda_common.h"

extern "C" FRCNN_API int32_t frcnn_cuda_device_count(void) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky-free error state */
        return 0;
    }
    return count < 0 ? 0 : (int32_t)count;
}

int32_t frcnn_cuda_require_device(const char *what, char *err, int64_t err_len) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return frcnn_set_error(err, err_len, FRCNN_ERR_NO_CUDA, "%s: no usable CUDA device (%s)", what,
                               cudaGetErrorString(e));
    }
    if (count <= 0) return frcnn_set_error(err, err_len, FRCNN_ERR_NO_CUDA, "%s: no CUDA device", what);
    return FRCNN_OK;
}

int32_t frcnn_cuda_error(cudaError_t e, const char *what, const char *step, char *err, int64_t err_len) {
    (void)cudaGetLastError();
    int32_t code = (e == cudaErrorMemoryAllocation) ? FRCNN_ERR_ALLOC : FRCNN_ERR_CUDA;
    return frcnn_set_error(err, err_len, code, "%s: %s failed: %s (%s)", what, step, cudaGetErrorString(e),
                           cudaGetErrorName(e));
}

int32_t FrcnnDeviceScope::enter(const void *ptr, const char *what, char *err, int64_t err_len) {
    cudaPointerAttributes attr;
    cudaError_t e = cudaPointerGetAttributes(&attr, ptr);
    if (e != cudaSuccess) return frcnn_cuda_error(e, what, "cudaPointerGetAttributes", err, err_len);
    if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "%s: %p is not CUDA device memory", what, ptr);
    e = cudaGetDevice(&prev_);
    if (e != cudaSuccess) return frcnn_cuda_error(e, what, "cudaGetDevice", err, err_len);
    if (prev_ != attr.device) {
        e = cudaSetDevice(attr.device);
        if (e != cudaSuccess) return frcnn_cuda_error(e, what, "cudaSetDevice", err, err_len);
        changed_ = true;
    }
    return FRCNN_OK;
}

FrcnnDeviceScope::~FrcnnDeviceScope() {
    if (changed_) (void)cudaSetDevice(prev_);
}

cudaError_t FrcnnDeviceBuffer::alloc(size_t bytes) {
    if (bytes == 0) bytes = 256;
    cudaError_t e = cudaMallocAsync(&ptr_, bytes, stream_);
    if (e == cudaSuccess) {
        async_ = true;
        return e;
    }
    (void)cudaGetLastError();
    ptr_ = nullptr;
    if (e != cudaErrorNotSupported) return e;
    e = cudaMalloc(&ptr_, bytes);
    if (e != cudaSuccess) ptr_ = nullptr;
    return e;
}

cudaError_t FrcnnDeviceBuffer::release() {
    if (ptr_ == nullptr) return cudaSuccess;
    cudaError_t e = async_ ? cudaFreeAsync(ptr_, stream_) : cudaFree(ptr_);
    ptr_ = nullptr;
    return e;
}

int32_t frcnn_cuda_bad_roi_error(const char *what, unsigned long long n, int64_t batch, char *err, int64_t err_len) {
    return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                           "%s: roi %llu: the batch index must be an integer in [0, %lld) and the coordinates finite",
                           what, n, (long long)batch);
}
