/* Internal helpers of the CUDA sources. */
#ifndef FRCNN_CUDA_COMMON_H
#define FRCNN_CUDA_COMMON_H

#include <cuda_runtime.h>
#include <string.h>

#include "frcnn_ops.h"
#include "ops_internal.h"

/* FRCNN_OK if a CUDA device is usable, else FRCNN_ERR_NO_CUDA with a message. */
int32_t frcnn_cuda_require_device(const char *what, char *err, int64_t err_len);

/* Maps a CUDA error to FRCNN_ERR_ALLOC (out of memory) or FRCNN_ERR_CUDA, with cudaGetErrorString. */
int32_t frcnn_cuda_error(cudaError_t e, const char *what, const char *step, char *err, int64_t err_len);

/* Evaluates a CUDA runtime call; on failure returns the mapped error code from the enclosing function. */
#define FRCNN_CUDA_TRY(call, what, step)                                                   \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) return frcnn_cuda_error(e_, what, step, err, err_len);      \
    } while (0)
/*
 * Makes the device that owns `ptr` current for the scope of one entry point (kernels have to run on
 * the device of their data and of their stream) and restores the caller's device afterwards.
 */
class FrcnnDeviceScope {
  public:
    FrcnnDeviceScope() : prev_(-1), changed_(false) {}
    /* FRCNN_OK, or FRCNN_ERR_INVALID_ARGUMENT when ptr is not device memory. */
    int32_t enter(const void *ptr, const char *what, char *err, int64_t err_len);
    ~FrcnnDeviceScope();

  private:
    int prev_;
    bool changed_;
};

/*
 * Temporary device memory for one call: cudaMallocAsync on the stream (cudaMalloc where memory
 * pools are not supported); release() frees it (stream-ordered) and is also run by the destructor.
 */
class FrcnnDeviceBuffer {
  public:
    explicit FrcnnDeviceBuffer(cudaStream_t s) : ptr_(nullptr), async_(false), stream_(s) {}
    cudaError_t alloc(size_t bytes);
    void *get() const { return ptr_; }
    cudaError_t release();
    ~FrcnnDeviceBuffer() { (void)release(); }

  private:
    void *ptr_;
    bool async_;
    cudaStream_t stream_;
};
/*
 * Runs one op kernel that reports bad input through a device-side status struct (all fields
 * unsigned long long, ULLONG_MAX meaning "none"): uploads the initial status, runs `launch(status)`,
 * downloads the status into *result and synchronises the stream.
 */
template <class Status, class Launch>
int32_t frcnn_run_with_status(const char *what, cudaStream_t stream, Status *result, Launch launch, char *err,
                              int64_t err_len) {
    Status init;
    memset(&init, 0xff, sizeof(init)); /* every field ULLONG_MAX: nothing found */
    *result = init;
    FrcnnDeviceBuffer tmp(stream);
    FRCNN_CUDA_TRY(tmp.alloc(sizeof(Status)), what, "temporary allocation");
    Status *status = (Status *)tmp.get();
    FRCNN_CUDA_TRY(cudaMemcpyAsync(status, &init, sizeof(init), cudaMemcpyHostToDevice, stream), what,
                   "status upload");
    FRCNN_CUDA_TRY(launch(status), what, "kernel launch");
    FRCNN_CUDA_TRY(cudaMemcpyAsync(result, status, sizeof(Status), cudaMemcpyDeviceToHost, stream), what,
                   "status download");
    FRCNN_CUDA_TRY(tmp.release(), what, "free");
    FRCNN_CUDA_TRY(cudaStreamSynchronize(stream), what, "cudaStreamSynchronize");
    return FRCNN_OK;
}

/* FRCNN_ERR_INVALID_ARGUMENT for roi n of an op whose rois have a bad batch index or coordinates. */
int32_t frcnn_cuda_bad_roi_error(const char *what, unsigned long long n, int64_t batch, char *err, int64_t err_len);

#endif
