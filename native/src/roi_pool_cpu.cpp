/*
 * RoIPool forward and backward on the CPU with torchvision.ops.roi_pool semantics
 * (torchvision/csrc/ops/cpu/roi_pool_kernel.cpp): same geometry (float32), same scan order and
 * comparison (strict '>', first maximum wins, NaN never wins), same accumulation order of the
 * backward ((roi, channel, ph, pw) for every grad_input element).
 *
 * Work is split over channels between threads. Every (batch, channel) plane of the input and of
 * grad_input is touched by exactly one thread, in the sequential order, so the results do not
 * depend on the number of threads.
 */
#include "frcnn_ops.h"
#include "cpu_parallel.h"
#include "ops_internal.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

namespace {

struct Bin {
    int64_t hs, he, ws, we;
};


/* One bin cell for all channels: lane-wise `if (v > max) { max = v; idx = id; }` (the scalar rule). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void update_channels(float *__restrict mx, int32_t *__restrict ix, const float *__restrict v, int32_t id,
                     int64_t channels) {
    for (int64_t c = 0; c < channels; ++c) {
        const float x = v[c];
        const bool m = x > mx[c];
        mx[c] = m ? x : mx[c];
        ix[c] = m ? id : ix[c];
    }
}

/* The same rule without the argmax (for a forward whose argmax is not wanted): `max = v > max ? v : max`, which
 * keeps the value update_channels keeps (NaN never wins). About half its work per cell. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void update_channels_max(float *__restrict mx, const float *__restrict v, int64_t channels) {
    for (int64_t c = 0; c < channels; ++c) {
        const float x = v[c];
        mx[c] = x > mx[c] ? x : mx[c];
    }
}

/*
 * Channels-last path: the input is transposed to (batch, height, width, channels) once, then every
 * bin cell updates all channels with one vectorised pass. Same comparisons in the same (h, w) order
 * per channel as the scalar scan, so output and argmax are identical. Threads split the rois.
 */
void forward_channels_last(const float *input, int64_t batch, int64_t channels, int64_t height, int64_t width,
                           const int64_t *roi_batch, int64_t n_rois, const Bin *geom, int64_t bins, float *output,
                           int64_t *argmax, int threads) {
    const int64_t plane = height * width;
    std::vector<float> hwc((size_t)(batch * plane * channels));
    /* all allocations happen here, before any thread starts (a throw inside a thread would terminate) */
    std::vector<float> mx_all((size_t)(threads * bins * channels));
    std::vector<int32_t> ix_all(argmax != nullptr ? (size_t)(threads * bins * channels) : 0);
    auto transpose = [&](int64_t r0, int64_t r1, int) { /* (b, h) rows of the map */
        const int64_t cb = 16; /* channel block: 16 source rows in flight, short strided writes */
        for (int64_t bh = r0; bh < r1; ++bh) {
            const int64_t b = bh / height, h = bh % height;
            float *dst = hwc.data() + (b * plane + h * width) * channels;
            for (int64_t c0 = 0; c0 < channels; c0 += cb) {
                const int64_t c1 = std::min(channels, c0 + cb);
                const float *src = input + (b * channels + c0) * plane + h * width;
                for (int64_t w = 0; w < width; ++w) {
                    float *d = dst + w * channels;
                    for (int64_t c = c0; c < c1; ++c) d[c] = src[(c - c0) * plane + w];
                }
            }
        }
    };
    frcnn_parallel_ranges(batch * height, threads, transpose);
    auto body = [&](int64_t n0, int64_t n1, int slot) {
        float *mx = mx_all.data() + (size_t)slot * bins * channels;
        int32_t *ix = argmax != nullptr ? ix_all.data() + (size_t)slot * bins * channels : nullptr;
        for (int64_t n = n0; n < n1; ++n) {
            const Bin *bn = geom + n * bins;
            const float *base = hwc.data() + roi_batch[n] * plane * channels;
            for (int64_t k = 0; k < bins; ++k) {
                const Bin bk = bn[k];
                const bool empty = (bk.he <= bk.hs) || (bk.we <= bk.ws);
                float *m = mx + k * channels;
                std::fill(m, m + channels, empty ? 0.0f : -FLT_MAX);
                if (ix == nullptr) {
                    for (int64_t h = bk.hs; h < bk.he; ++h)
                        for (int64_t w = bk.ws; w < bk.we; ++w)
                            update_channels_max(m, base + (h * width + w) * channels, channels);
                    continue;
                }
                int32_t *x = ix + k * channels;
                std::fill(x, x + channels, -1);
                for (int64_t h = bk.hs; h < bk.he; ++h)
                    for (int64_t w = bk.ws; w < bk.we; ++w)
                        update_channels(m, x, base + (h * width + w) * channels, (int32_t)(h * width + w), channels);
            }
            for (int64_t c = 0; c < channels; ++c) {
                float *out = output + (n * channels + c) * bins;
                for (int64_t k = 0; k < bins; ++k) out[k] = mx[(size_t)(k * channels + c)];
                if (ix == nullptr) continue;
                int64_t *am = argmax + (n * channels + c) * bins;
                for (int64_t k = 0; k < bins; ++k) am[k] = ix[(size_t)(k * channels + c)];
            }
        }
    };
    frcnn_parallel_ranges(n_rois, threads, body);
}

}  // namespace

extern "C" FRCNN_API int32_t frcnn_roi_pool_forward_cpu(const float *input, int64_t batch, int64_t channels,
                                                        int64_t height, int64_t width, const float *rois,
                                                        int64_t n_rois, float spatial_scale, int64_t pooled_h,
                                                        int64_t pooled_w, float *output, int64_t *argmax, char *err,
                                                        int64_t err_len) {
    frcnn_clear_error(err, err_len);
    int32_t rc = frcnn_check_roi_pool_args(input, batch, channels, height, width, rois, n_rois, spatial_scale,
                                           pooled_h, pooled_w, output, argmax, err, err_len);
    if (rc != FRCNN_OK) return rc;
    if (n_rois == 0 || channels == 0) return FRCNN_OK;
    for (int64_t n = 0; n < n_rois; ++n) {
        const float *r = rois + n * 5;
        if (!frcnn_roi_valid(r, batch))
            return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                                   "roi_pool: roi %lld = (%g, %g, %g, %g, %g): the batch index must be an integer in "
                                   "[0, %lld) and the coordinates finite",
                                   (long long)n, (double)r[0], (double)r[1], (double)r[2], (double)r[3], (double)r[4],
                                   (long long)batch);
    }
    const int64_t bins = pooled_h * pooled_w;
    std::vector<Bin> geom;
    std::vector<int64_t> roi_batch;
    try {
        geom.resize((size_t)(n_rois * bins));
        roi_batch.resize((size_t)n_rois);
    } catch (const std::bad_alloc &) {
        return frcnn_set_error(err, err_len, FRCNN_ERR_ALLOC, "roi_pool: cannot allocate the bin table");
    }
    double work = 0;
    for (int64_t n = 0; n < n_rois; ++n) {
        const float *r = rois + n * 5;
        roi_batch[(size_t)n] = (int64_t)r[0];
        FrcnnRoiGeom g = frcnn_roi_geom(r, spatial_scale, pooled_h, pooled_w);
        for (int64_t ph = 0; ph < pooled_h; ++ph) {
            int64_t hs, he;
            frcnn_roi_bin(ph, g.bin_h, g.start_h, height, &hs, &he);
            for (int64_t pw = 0; pw < pooled_w; ++pw) {
                int64_t ws, we;
                frcnn_roi_bin(pw, g.bin_w, g.start_w, width, &ws, &we);
                geom[(size_t)(n * bins + ph * pooled_w + pw)] = Bin{hs, he, ws, we};
                if (he > hs && we > ws) work += (double)((he - hs) * (we - ws));
            }
        }
    }
    work = (work + (double)(n_rois * bins)) * (double)channels;
    const int64_t plane = height * width;
    auto body = [&](int64_t c0, int64_t c1, int) {
        for (int64_t n = 0; n < n_rois; ++n) {
            const Bin *bn = geom.data() + n * bins;
            const int64_t b = roi_batch[(size_t)n];
            for (int64_t c = c0; c < c1; ++c) {
                const float *in = input + (b * channels + c) * plane;
                float *out = output + (n * channels + c) * bins;
                int64_t *am = argmax != nullptr ? argmax + (n * channels + c) * bins : nullptr;
                for (int64_t k = 0; k < bins; ++k) {
                    const Bin bk = bn[k];
                    const bool empty = (bk.he <= bk.hs) || (bk.we <= bk.ws);
                    float maxval = empty ? 0.0f : -FLT_MAX;
                    int64_t maxidx = -1;
                    for (int64_t h = bk.hs; h < bk.he; ++h) {
                        const float *row = in + h * width;
                        for (int64_t w = bk.ws; w < bk.we; ++w) {
                            float v = row[w];
                            if (v > maxval) {
                                maxval = v;
                                maxidx = h * width + w;
                            }
                        }
                    }
                    out[k] = maxval;
                    if (am != nullptr) am[k] = maxidx;
                }
            }
        }
    };
    const int threads = frcnn_thread_count(channels, work);
    /* channels-last pays off when the bins revisit the map; the transposition costs one pass over it */
    if (plane < ((int64_t)1 << 31) && work > 2.0 * (double)(batch * channels * plane) &&
        batch * channels * plane < ((int64_t)1 << 28)) {
        try {
            forward_channels_last(input, batch, channels, height, width, roi_batch.data(), n_rois, geom.data(), bins,
                                  output, argmax, (int)std::max<int64_t>(1, std::min<int64_t>(threads, n_rois)));
            return FRCNN_OK;
        } catch (const std::bad_alloc &) {
            /* fall back to the direct scan below */
        }
    }
    frcnn_parallel_ranges(channels, threads, body);
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_pool_backward_cpu(const float *grad_output, const int64_t *argmax,
                                                         const float *rois, int64_t n_rois, int64_t batch,
                                                         int64_t channels, int64_t height, int64_t width,
                                                         int64_t pooled_h, int64_t pooled_w, float *grad_input,
                                                         char *err, int64_t err_len) {
    frcnn_clear_error(err, err_len);
    if (batch < 0 || channels < 0 || height < 0 || width < 0 || n_rois < 0 || pooled_h <= 0 || pooled_w <= 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "roi_pool backward: bad sizes (n_rois %lld, input (%lld, %lld, %lld, %lld), pooled "
                               "(%lld, %lld))",
                               (long long)n_rois, (long long)batch, (long long)channels, (long long)height,
                               (long long)width, (long long)pooled_h, (long long)pooled_w);
    const int64_t plane = height * width;
    const int64_t total = batch * channels * plane;
    if (total > 0 && grad_input == nullptr)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT, "roi_pool backward: grad_input is NULL");
    if (n_rois > 0 && channels > 0 && (grad_output == nullptr || argmax == nullptr || rois == nullptr))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "roi_pool backward: NULL grad_output/argmax/rois pointer");
    for (int64_t n = 0; n < n_rois; ++n) {
        const float *r = rois + n * 5;
        if (!frcnn_roi_valid(r, batch))
            return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                                   "roi_pool backward: roi %lld = (%g, %g, %g, %g, %g): the batch index must be an "
                                   "integer in [0, %lld) and the coordinates finite",
                                   (long long)n, (double)r[0], (double)r[1], (double)r[2], (double)r[3], (double)r[4],
                                   (long long)batch);
    }
    if (total > 0) std::memset(grad_input, 0, (size_t)total * sizeof(float));
    if (n_rois == 0 || channels == 0) return FRCNN_OK;
    const int64_t bins = pooled_h * pooled_w;
    std::atomic<int64_t> bad_at{-1};
    auto body = [&](int64_t c0, int64_t c1, int) {
        for (int64_t n = 0; n < n_rois; ++n) {
            const int64_t b = (int64_t)rois[n * 5];
            for (int64_t c = c0; c < c1; ++c) {
                float *gi = grad_input + (b * channels + c) * plane;
                const int64_t off = (n * channels + c) * bins;
                const float *go = grad_output + off;
                const int64_t *am = argmax + off;
                for (int64_t k = 0; k < bins; ++k) {
                    const int64_t a = am[k];
                    if (a >= 0 && a < plane) {
                        gi[a] += go[k];
                    } else if (a != -1) {
                        int64_t expected = -1;
                        bad_at.compare_exchange_strong(expected, off + k);
                    }
                }
            }
        }
    };
    frcnn_parallel_ranges(channels, frcnn_thread_count(channels, (double)(n_rois * bins * channels)), body);
    int64_t bad = bad_at.load();
    if (bad >= 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "roi_pool backward: argmax[%lld] = %lld is outside [-1, %lld)", (long long)bad,
                               (long long)argmax[bad], (long long)plane);
    return FRCNN_OK;
}

extern "C" FRCNN_API int32_t frcnn_roi_pool_gather_index_cpu(const int64_t *argmax, const float *output,
                                                             const float *rois, int64_t n_rois, int64_t batch,
                                                             int64_t channels, int64_t height, int64_t width,
                                                             int64_t pooled_h, int64_t pooled_w, int64_t fill_base,
                                                             int64_t *index, char *err, int64_t err_len) {
    frcnn_clear_error(err, err_len);
    if (batch < 0 || channels < 0 || height < 0 || width < 0 || n_rois < 0 || pooled_h <= 0 || pooled_w <= 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "roi_pool gather index: bad sizes (n_rois %lld, input (%lld, %lld, %lld, %lld), pooled "
                               "(%lld, %lld))",
                               (long long)n_rois, (long long)batch, (long long)channels, (long long)height,
                               (long long)width, (long long)pooled_h, (long long)pooled_w);
    if (n_rois > 0 && channels > 0 && (argmax == nullptr || output == nullptr || rois == nullptr || index == nullptr))
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "roi_pool gather index: NULL argmax/output/rois/index pointer");
    for (int64_t n = 0; n < n_rois; ++n) {
        const float *r = rois + n * 5;
        if (!frcnn_roi_valid(r, batch))
            return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                                   "roi_pool gather index: roi %lld: the batch index must be an integer in [0, %lld) "
                                   "and the coordinates finite",
                                   (long long)n, (long long)batch);
    }
    if (n_rois == 0 || channels == 0) return FRCNN_OK;
    const int64_t plane = height * width, bins = pooled_h * pooled_w;
    std::atomic<int64_t> bad_at{-1};
    auto body = [&](int64_t n0, int64_t n1, int) {
        for (int64_t n = n0; n < n1; ++n) {
            const int64_t b = (int64_t)rois[n * 5];
            for (int64_t c = 0; c < channels; ++c) {
                const int64_t off = (n * channels + c) * bins, base = (b * channels + c) * plane;
                for (int64_t k = 0; k < bins; ++k) {
                    const int64_t a = argmax[off + k];
                    if (a >= 0 && a < plane) {
                        index[off + k] = base + a;
                    } else if (a == -1) {
                        index[off + k] = output[off + k] == 0.0f ? fill_base : fill_base + 1;
                    } else {
                        int64_t expected = -1;
                        bad_at.compare_exchange_strong(expected, off + k);
                        index[off + k] = fill_base;
                    }
                }
            }
        }
    };
    frcnn_parallel_ranges(n_rois, (int)std::min<int64_t>(frcnn_thread_count(channels, (double)(n_rois * bins * channels)), n_rois),
                    body);
    const int64_t bad = bad_at.load();
    if (bad >= 0)
        return frcnn_set_error(err, err_len, FRCNN_ERR_INVALID_ARGUMENT,
                               "roi_pool gather index: argmax[%lld] = %lld is outside [-1, %lld)", (long long)bad,
                               (long long)argmax[bad], (long long)plane);
    return FRCNN_OK;
}
