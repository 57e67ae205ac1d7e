/*
 * frcnn_ops: the detection ops that LibTorch lacks (torchvision's nms, roi_pool, roi_align),
 * for CPU (C++) and CUDA, behind one C ABI that Java calls through java.lang.foreign (Panama).
 *
 * Conventions for every entry point
 * - Plain pointers and sizes only. Pointers to tensor data are host pointers for the *_cpu
 *   functions and device pointers for the *_cuda functions. All arrays are C-contiguous.
 * - `stream` is a cudaStream_t passed as void* (NULL = the legacy default stream). CPU
 *   functions have no stream.
 * - Every function returns FRCNN_OK (0) or an error code, and on error writes a NUL-terminated
 *   message into `err` (capacity `err_len` bytes, may be NULL / 0). Nothing is thrown across
 *   the boundary and nothing aborts the process.
 * - The library never allocates memory that outlives a call; outputs go into caller buffers.
 *   After an error the contents of the output buffers are unspecified.
 * - *_cuda functions run on the device that owns their data pointers (they switch the current
 *   device for the call and restore it); `stream` must belong to that device.
 * - CUDA entry points always exist. When the library was built without CUDA they return
 *   FRCNN_ERR_NO_CUDA.
 */
#ifndef FRCNN_OPS_H
#define FRCNN_OPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define FRCNN_API __declspec(dllexport)
#else
#define FRCNN_API __attribute__((visibility("default")))
#endif

#define FRCNN_OK 0
#define FRCNN_ERR_INVALID_ARGUMENT 1 /* a size, an index or a value is out of its domain */
#define FRCNN_ERR_NO_CUDA 2          /* built without CUDA, or no CUDA device/driver */
#define FRCNN_ERR_CUDA 3             /* a CUDA runtime call or kernel launch failed */
#define FRCNN_ERR_ALLOC 4            /* a temporary allocation failed */

/* ABI version; Java checks it when it loads the library. */
#define FRCNN_ABI_VERSION 2
FRCNN_API int32_t frcnn_abi_version(void);

/* 1 if the library was compiled with the CUDA kernels, else 0. */
FRCNN_API int32_t frcnn_built_with_cuda(void);

/* Number of visible CUDA devices (0 when built without CUDA, or when cudaGetDeviceCount fails,
 * e.g. without a driver). Never fails. */
FRCNN_API int32_t frcnn_cuda_device_count(void);

/*
 * Non-maximum suppression with torchvision.ops.nms semantics.
 *
 * boxes:  (n, 4) float32, rows (a1, b1, a2, b2): two corners on two axes. The result does not
 *         depend on which axis comes first, so both the reference's (ymin, xmin, ymax, xmax)
 *         and torchvision's (x1, y1, x2, y2) are accepted as they are.
 * scores: (n,) float32. Must not contain NaN (FRCNN_ERR_INVALID_ARGUMENT otherwise).
 * Order:  boxes are visited by score, descending; equal scores keep their input order (a
 *         stable sort, as torch's sort(stable=True, descending=True)).
 * Rule:   area = (a2 - a1) * (b2 - b1) (no +1); inter = max(0, min(a2) - max(a1)) *
 *         max(0, min(b2) - max(b1)); iou = inter / (area_i + area_j - inter), all in float32;
 *         box j is suppressed by an earlier kept box i when (double) iou > iou_threshold.
 * keep:   caller buffer of capacity n (int64); receives the kept indices (into the input
 *         rows) in descending score order.
 * max_keep: stop after this many kept boxes (<0: no limit). The first max_keep entries are
 *         identical to the unlimited result's.
 * n_keep: receives the number of entries written to keep.
 * n == 0 is valid and gives n_keep = 0.
 */
FRCNN_API int32_t frcnn_nms_cpu(const float *boxes, const float *scores, int64_t n,
                                double iou_threshold, int64_t max_keep,
                                int64_t *keep, int64_t *n_keep,
                                char *err, int64_t err_len);

/* Same contract on the GPU: boxes/scores/keep are device pointers; n_keep is a host pointer.
 * The call synchronises `stream` before it returns (the count has to reach the host). */
FRCNN_API int32_t frcnn_nms_cuda(const float *boxes, const float *scores, int64_t n,
                                 double iou_threshold, int64_t max_keep,
                                 int64_t *keep, int64_t *n_keep,
                                 void *stream, char *err, int64_t err_len);

/*
 * RoIPool forward with torchvision.ops.roi_pool semantics.
 *
 * input:  (batch, channels, height, width) float32.
 * rois:   (n_rois, 5) float32 rows (batch_index, x1, y1, x2, y2) in input-image pixels.
 *         batch_index must be an integer in [0, batch) and the coordinates finite
 *         (FRCNN_ERR_INVALID_ARGUMENT otherwise).
 * Geometry per roi (float32, as torchvision's CPU kernel):
 *   start_w = round(x1 * spatial_scale), start_h = round(y1 * s), end_w = round(x2 * s),
 *   end_h = round(y2 * s) (round half away from zero; clamped to +-2^30 cells so that absurd
 *   coordinates stay defined, which changes nothing for rois within that range);
 *   roi_w = max(end_w - start_w + 1, 1), roi_h likewise; bin_h = roi_h / pooled_h (float);
 *   hstart = floor(ph * bin_h) + start_h, hend = ceil((ph + 1) * bin_h) + start_h,
 *   both clipped to [0, height]; w likewise. An empty bin gives 0 and argmax -1.
 *   Otherwise the max over the bin (first maximum in row-major order wins; NaN never wins),
 *   starting from -FLT_MAX with a strict '>': a bin holding only NaN/-inf gives -FLT_MAX and
 *   argmax -1, as in torchvision.
 * output: (n_rois, channels, pooled_h, pooled_w) float32.
 * argmax: (n_rois, channels, pooled_h, pooled_w) int64: h * width + w of the max inside the
 *         (batch, channel) plane, or -1. May be NULL when it is not wanted (inference): the output is
 *         the same, and the CPU's channels-last scan does about half the work per cell.
 */
FRCNN_API int32_t frcnn_roi_pool_forward_cpu(const float *input, int64_t batch, int64_t channels,
                                             int64_t height, int64_t width,
                                             const float *rois, int64_t n_rois,
                                             float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                             float *output, int64_t *argmax,
                                             char *err, int64_t err_len);

/*
 * RoIPool backward: grad_input (batch, channels, height, width) float32 is ZEROED and then
 * receives, for every output cell with argmax >= 0, grad_output of that cell at argmax.
 * On the CPU the sums are accumulated in (roi, channel, ph, pw) order, as torchvision does.
 * rois are needed for the batch index of each roi. argmax values must be -1 or in
 * [0, height * width) (FRCNN_ERR_INVALID_ARGUMENT otherwise).
 */
FRCNN_API int32_t frcnn_roi_pool_backward_cpu(const float *grad_output, const int64_t *argmax,
                                              const float *rois, int64_t n_rois,
                                              int64_t batch, int64_t channels,
                                              int64_t height, int64_t width,
                                              int64_t pooled_h, int64_t pooled_w,
                                              float *grad_input,
                                              char *err, int64_t err_len);

/*
 * Gather index for RoIPool's autograd formulation on the CPU (LibTorch from Java cannot define a
 * custom backward, so the pooled values are re-gathered from the input with index_select, whose
 * backward is RoIPool's backward). For every output cell i = (roi, c, ph, pw):
 *   index[i] = (batch_index(roi) * channels + c) * height * width + argmax[i]   if argmax[i] >= 0,
 *   index[i] = fill_base                                                       if argmax[i] == -1
 *              and output[i] == 0 (an empty bin),
 *   index[i] = fill_base + 1                                                   otherwise (a bin of
 *              only NaN/-inf, whose output is -FLT_MAX).
 * With source = concat(input.reshape(-1), [0, -FLT_MAX]) and fill_base = batch*channels*height*width,
 * source[index] equals the forward output exactly. argmax/output are the forward's results.
 * argmax values must be -1 or in [0, height * width), batch indices as in the forward.
 */
FRCNN_API int32_t frcnn_roi_pool_gather_index_cpu(const int64_t *argmax, const float *output,
                                                  const float *rois, int64_t n_rois,
                                                  int64_t batch, int64_t channels,
                                                  int64_t height, int64_t width,
                                                  int64_t pooled_h, int64_t pooled_w,
                                                  int64_t fill_base, int64_t *index,
                                                  char *err, int64_t err_len);

/* Same contract as the CPU forward on the GPU (device pointers; argmax may be NULL); output and
 * argmax equal the CPU's exactly. Invalid rois are detected on the device, so the call synchronises `stream` before it
 * returns. */
FRCNN_API int32_t frcnn_roi_pool_forward_cuda(const float *input, int64_t batch, int64_t channels,
                                              int64_t height, int64_t width,
                                              const float *rois, int64_t n_rois,
                                              float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                              float *output, int64_t *argmax,
                                              void *stream, char *err, int64_t err_len);

/* CUDA backward accumulates with atomicAdd: sums equal the CPU's up to float rounding order.
 * Like the forward, it synchronises `stream` before it returns (argmax/rois are checked on the
 * device). */
FRCNN_API int32_t frcnn_roi_pool_backward_cuda(const float *grad_output, const int64_t *argmax,
                                               const float *rois, int64_t n_rois,
                                               int64_t batch, int64_t channels,
                                               int64_t height, int64_t width,
                                               int64_t pooled_h, int64_t pooled_w,
                                               float *grad_input,
                                               void *stream, char *err, int64_t err_len);

/*
 * RoIAlign with torchvision.ops.roi_align semantics (torchvision/csrc/ops/cpu/roi_align_kernel.cpp).
 *
 * input:  (batch, channels, height, width) float32.
 * rois:   (n_rois, 5) float32 rows (batch_index, x1, y1, x2, y2) in input-image pixels; batch_index
 *         must be an integer in [0, batch) and the coordinates finite (FRCNN_ERR_INVALID_ARGUMENT).
 * sampling_ratio: samples per bin along each axis; <= 0 means adaptive (see grid below).
 * aligned: 0 or 1 (torchvision's `aligned`: pixel model shifted by half a pixel).
 * Geometry per roi, all float32 in this order (no fused multiply-add):
 *   offset = aligned ? 0.5 : 0; start_w = x1 * spatial_scale - offset, start_h = y1 * s - offset,
 *   end likewise; roi_w = end_w - start_w, roi_h likewise; if !aligned: roi_w = max(roi_w, 1),
 *   roi_h = max(roi_h, 1); bin_h = roi_h / pooled_h, bin_w likewise;
 *   grid_h = sampling_ratio > 0 ? sampling_ratio : (int) ceil(roi_h / pooled_h) (float32 division;
 *   clamped to +-2^30 so that absurd rois stay defined), grid_w likewise. A grid <= 0 (aligned
 *   zero-size or inverted rois) means no samples.
 * Sample (iy, ix) of bin (ph, pw): y = (start_h + ph * bin_h) + ((iy + 0.5) * bin_h) / grid_h,
 *   x likewise. Bilinear: if y < -1 or y > height or x < -1 or x > width the sample is 0;
 *   else y = max(y, 0); y_low = (int) y; if y_low >= height - 1 then y_low = y_high = height - 1
 *   and y = y_low, else y_high = y_low + 1; x likewise; ly = y - y_low, lx = x - x_low,
 *   hy = 1 - ly, hx = 1 - lx (computed in double and rounded, as torchvision's `1. - ly`);
 *   w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx at the corners (y_low, x_low),
 *   (y_low, x_high), (y_high, x_low), (y_high, x_high).
 */

/*
 * Sampling grid per roi: grid_hw (n_rois, 2) int64 receives (grid_h, grid_w) as defined above
 * (the raw value; it can be <= 0). Pure geometry: no feature map is needed.
 */
FRCNN_API int32_t frcnn_roi_align_grid_cpu(const float *rois, int64_t n_rois, int64_t batch,
                                           float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                           int64_t sampling_ratio, int32_t aligned, int64_t *grid_hw,
                                           char *err, int64_t err_len);

/*
 * RoIAlign forward: output (n_rois, channels, pooled_h, pooled_w) float32 =
 * (sum over (iy, ix) in row-major order, starting from 0, of ((w1*v1 + w2*v2) + w3*v3) + w4*v4)
 * / max(grid_h * grid_w, 1); a roi without samples gives 0. On the CPU this is bit-identical to
 * torchvision's CPU kernel.
 */
FRCNN_API int32_t frcnn_roi_align_forward_cpu(const float *input, int64_t batch, int64_t channels,
                                              int64_t height, int64_t width,
                                              const float *rois, int64_t n_rois,
                                              float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                              int64_t sampling_ratio, int32_t aligned,
                                              float *output, char *err, int64_t err_len);

/*
 * RoIAlign backward: grad_input (batch, channels, height, width) float32 is ZEROED and then, for
 * every (roi, channel, ph, pw) in row-major order and each in-range sample (iy, ix), receives
 * (g * w_k) / count at its 4 corners in the order w1..w4, with g = grad_output[roi, c, ph, pw]
 * and count = grid_h * grid_w (float32). On the CPU this is torchvision's accumulation order.
 */
FRCNN_API int32_t frcnn_roi_align_backward_cpu(const float *grad_output, const float *rois, int64_t n_rois,
                                               int64_t batch, int64_t channels,
                                               int64_t height, int64_t width,
                                               float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                               int64_t sampling_ratio, int32_t aligned,
                                               float *grad_input, char *err, int64_t err_len);

/*
 * RoIAlign as a sparse linear map, for building the op from differentiable tensor ops
 * (output[roi, c, cell] = sum_e weight[e] * input_rows[index[e], c] / max(grid_h * grid_w, 1),
 * where input_rows is the input as (batch * height * width, channels) plus one extra zero row).
 *
 * roi_offsets: (n_rois,) int64, the first entry of each roi; roi r owns
 *   pooled_h * pooled_w * max(grid_h, 0) * max(grid_w, 0) * 4 consecutive entries, which must end
 *   at or before n_entries (FRCNN_ERR_INVALID_ARGUMENT otherwise). Entries that no roi owns are
 *   left untouched.
 * Entry order inside a roi: (ph, pw, iy, ix, corner 1..4). index (int64) receives
 *   batch_index * height * width + y * width + x of the corner; weight (float32) receives w1..w4
 *   (not divided by the count). An out-of-range sample writes index = batch * height * width (the
 *   extra zero row) and weight 0 for its 4 entries.
 */
FRCNN_API int32_t frcnn_roi_align_weights_cpu(const float *rois, int64_t n_rois, int64_t batch,
                                              int64_t height, int64_t width,
                                              float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                              int64_t sampling_ratio, int32_t aligned,
                                              const int64_t *roi_offsets, int64_t n_entries,
                                              int64_t *index, float *weight,
                                              char *err, int64_t err_len);

/* CUDA versions of the four RoIAlign entry points: same contracts with device pointers (all
 * arrays) on the device that owns them; rois are checked on the device, so every call
 * synchronises `stream` before it returns. The forward, grid and weights equal the CPU's
 * exactly; the backward accumulates with atomicAdd (equal up to summation order). */
FRCNN_API int32_t frcnn_roi_align_grid_cuda(const float *rois, int64_t n_rois, int64_t batch,
                                            float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                            int64_t sampling_ratio, int32_t aligned, int64_t *grid_hw,
                                            void *stream, char *err, int64_t err_len);

FRCNN_API int32_t frcnn_roi_align_forward_cuda(const float *input, int64_t batch, int64_t channels,
                                               int64_t height, int64_t width,
                                               const float *rois, int64_t n_rois,
                                               float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                               int64_t sampling_ratio, int32_t aligned,
                                               float *output, void *stream, char *err, int64_t err_len);

FRCNN_API int32_t frcnn_roi_align_backward_cuda(const float *grad_output, const float *rois, int64_t n_rois,
                                                int64_t batch, int64_t channels,
                                                int64_t height, int64_t width,
                                                float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                                int64_t sampling_ratio, int32_t aligned,
                                                float *grad_input, void *stream, char *err, int64_t err_len);

FRCNN_API int32_t frcnn_roi_align_weights_cuda(const float *rois, int64_t n_rois, int64_t batch,
                                               int64_t height, int64_t width,
                                               float spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                               int64_t sampling_ratio, int32_t aligned,
                                               const int64_t *roi_offsets, int64_t n_entries,
                                               int64_t *index, float *weight,
                                               void *stream, char *err, int64_t err_len);

/*
 * One step of SGD with momentum (torch.optim.SGD with dampening 0, not Nesterov) over n float32 values, in one
 * pass, with the roundings of LibTorch's SGD::step so that the result is bit-identical to it:
 *   d   = weight_decay != 0 ? fma(param, weight_decay, grad) : grad
 *   buf = init_buffer ? d : (buf * momentum) + d          (the product rounded first)
 *   param = fma(buf, -lr, param)
 * lr, weight_decay and momentum are rounded to float32 first, as LibTorch's float kernels read their Scalars.
 * param, grad and momentum_buffer: n float32 each (the buffer's old contents are ignored when init_buffer != 0).
 * Non-finite lr, weight_decay or momentum: FRCNN_ERR_INVALID_ARGUMENT, nothing written.
 */
FRCNN_API int32_t frcnn_sgd_step_cpu(float *param, const float *grad, float *momentum_buffer, int64_t n,
                                     double lr, double weight_decay, double momentum, int32_t init_buffer,
                                     char *err, int64_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* FRCNN_OPS_H */
