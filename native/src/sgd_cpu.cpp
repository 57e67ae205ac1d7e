/*
 * One step of SGD with momentum over a float32 parameter, in one pass over memory, with the roundings of
 * LibTorch's torch::optim::SGD::step (dampening 0, not Nesterov):
 *   d_p = grad.add(param, weight_decay)     vectorised as fma(param, weight_decay, grad)
 *   buf = clone(d_p)                        on the first step, else
 *   buf.mul_(momentum).add_(d_p)            buf * momentum rounded, then + d_p rounded
 *   param.add_(buf, -lr)                    fma(buf, -lr, param)
 * LibTorch makes four passes (and a temporary for d_p); this kernel reads param, grad and buf once and writes
 * param and buf once. Every element is computed on its own, so the thread split changes nothing.
 */
#include "frcnn_ops.h"
#include "cpu_parallel.h"
#include "ops_internal.h"

#include <cmath>

namespace {

/* fmaf is exact (one rounding) in every variant: an instruction where the target has FMA, libm elsewhere. */
template <bool kWeightDecay>
inline void sgd_body(float *__restrict param, const float *__restrict grad, float *__restrict buf, int64_t n,
                     float neg_lr, float weight_decay, float momentum, bool init) {
    if (init) {
        for (int64_t i = 0; i < n; ++i) {
            const float d = kWeightDecay ? std::fmaf(param[i], weight_decay, grad[i]) : grad[i];
            buf[i] = d;
            param[i] = std::fmaf(d, neg_lr, param[i]);
        }
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        const float d = kWeightDecay ? std::fmaf(param[i], weight_decay, grad[i]) : grad[i];
        const float scaled = buf[i] * momentum; /* rounded on its own, as buf.mul_(momentum) */
        const float b = scaled + d;
        buf[i] = b;
        param[i] = std::fmaf(b, neg_lr, param[i]);
    }
}

void sgd_range_generic(float *param, const float *grad, float *buf, int64_t n, float neg_lr, float weight_decay,
                       float momentum, bool init) {
    if (weight_decay != 0.0f) sgd_body<true>(param, grad, buf, n, neg_lr, weight_decay, momentum, init);
    else sgd_body<false>(param, grad, buf, n, neg_lr, weight_decay, momentum, init);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same loop compiled for AVX2 + FMA (vectorised fused multiply-adds), chosen at run time. */
__attribute__((target("avx2,fma"))) void sgd_range_fma(float *param, const float *grad, float *buf, int64_t n,
                                                        float neg_lr, float weight_decay, float momentum, bool init) {
    if (weight_decay != 0.0f) sgd_body<true>(param, grad, buf, n, neg_lr, weight_decay, momentum, init);
    else sgd_body<false>(param, grad, buf, n, neg_lr, weight_decay, momentum, init);
}

bool cpu_has_fma() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}
#endif

void sgd_range(float *param, const float *grad, float *buf, int64_t n, float neg_lr, float weight_decay,
               float momentum, bool init) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_has_fma()) {
        sgd_range_fma(param, grad, buf, n, neg_lr, weight_decay, momentum, init);
        return;
    }
#endif
    sgd_range_generic(param, grad, buf, n, neg_lr, weight_decay, momentum, init);
}

}  // namespace

extern "C" FRCNN_API int32_t frcnn_sgd_step_cpu(float *param, const float *grad, float *momentum_buffer, int64_t n,
                                                double lr, double weight_decay, double momentum,
                                                int32_t init_buffer, char *err, int64_t err_len) {
    frcnn_clear_error(err, err_len);
    if (n < 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "sgd_step: negative size %lld", (long long)n);
    if (n == 0) return FRCNN_OK;
    if (param == nullptr || grad == nullptr || momentum_buffer == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "sgd_step: NULL param/grad/buffer pointer");
    if (!std::isfinite(lr) || !std::isfinite(weight_decay) || !std::isfinite(momentum))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "sgd_step: lr %g, weight_decay %g and momentum %g must be finite", lr, weight_decay,
                               momentum);
    /* LibTorch passes these as Scalars that its float kernels read as float */
    const float neg_lr = (float)(-1 * lr), wd = (float)weight_decay, m = (float)momentum;
    const bool init = init_buffer != 0;
    /* memory-bound: a second thread pays off only for large tensors (thread start-up is tens of microseconds) */
    const int threads = n >= ((int64_t)1 << 20) ? frcnn_thread_count(n, (double)n) : 1;
    const int64_t block = 64; /* 256-byte ranges: each thread's range starts on its own cache lines */
    const int64_t blocks = (n + block - 1) / block;
    frcnn_parallel_ranges(blocks, threads, [&](int64_t b0, int64_t b1, int) {
        const int64_t i0 = b0 * block, i1 = std::min(n, b1 * block);
        sgd_range(param + i0, grad + i0, momentum_buffer + i0, i1 - i0, neg_lr, wd, m, init);
    });
    return FRCNN_OK;
}
