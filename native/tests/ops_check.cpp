/*
 * frcnn_ops_check: self-test of libfrcnn_ops on random inputs (fixed seed).
 *
 * CPU: NMS and RoIPool are compared with straightforward re-statements of torchvision's CPU kernels
 * written here (O(n^2) NMS over a stable sort, RoIPool scan, backward in (roi, c, ph, pw) order),
 * plus invariants (keep indices unique and in range, scores non-increasing, max_keep prefix, no
 * two kept boxes above the threshold; argmax inside its bin, output = input[argmax]).
 * CUDA (when frcnn_cuda_device_count() > 0): the same inputs through the CUDA entry points; NMS keep
 * lists identical, RoIPool output and argmax identical, grad_input within 1e-5 * max|grad_input|.
 * RoIAlign (two settings: sampling_ratio 2 / unaligned and adaptive / aligned): grid, forward and
 * backward against a per-sample re-statement of torchvision's CPU kernel (bit for bit), and the
 * sparse weights against the forward; on CUDA grid/forward/weights identical to the CPU and
 * grad_input within 1e-5 * max|grad_input|.
 * Prints timings (ms, median of several runs) and PASS/FAIL; exit code 1 on any mismatch.
 */
#include "frcnn_ops.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#if defined(FRCNN_WITH_CUDA)
#include <cuda_runtime.h>
#endif

namespace {

int failures = 0;

void check(bool ok, const char *what) {
    if (!ok) {
        std::printf("  FAIL: %s\n", what);
        ++failures;
    }
}

template <class F>
double median_ms(int reps, F f) {
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        auto a = std::chrono::steady_clock::now();
        f();
        auto b = std::chrono::steady_clock::now();
        t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

float ref_iou(const float *a, const float *b) {
    float area_a = (a[2] - a[0]) * (a[3] - a[1]);
    float area_b = (b[2] - b[0]) * (b[3] - b[1]);
    float xx1 = std::max(a[0], b[0]), yy1 = std::max(a[1], b[1]);
    float xx2 = std::min(a[2], b[2]), yy2 = std::min(a[3], b[3]);
    float w = std::max(0.0f, xx2 - xx1), h = std::max(0.0f, yy2 - yy1);
    float inter = w * h;
    return inter / (area_a + area_b - inter);
}

/* torchvision's CPU loop, as written there. */
std::vector<int64_t> ref_nms(const std::vector<float> &boxes, const std::vector<float> &scores, double thr) {
    const int64_t n = (int64_t)scores.size();
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
    std::vector<char> sup(n, 0);
    std::vector<int64_t> keep;
    for (int64_t oi = 0; oi < n; ++oi) {
        int64_t i = order[oi];
        if (sup[i]) continue;
        keep.push_back(i);
        for (int64_t oj = oi + 1; oj < n; ++oj) {
            int64_t j = order[oj];
            if (sup[j]) continue;
            if ((double)ref_iou(&boxes[i * 4], &boxes[j * 4]) > thr) sup[j] = 1;
        }
    }
    return keep;
}

void make_boxes(std::mt19937 &rng, int64_t n, float img_h, float img_w, std::vector<float> &boxes,
                std::vector<float> &scores, bool ties) {
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    boxes.resize(n * 4);
    scores.resize(n);
    for (int64_t i = 0; i < n; ++i) {
        float cy = u(rng) * img_h, cx = u(rng) * img_w;
        float h = 8.0f + u(rng) * 200.0f, w = 8.0f + u(rng) * 200.0f;
        boxes[i * 4 + 0] = cy - h / 2;
        boxes[i * 4 + 1] = cx - w / 2;
        boxes[i * 4 + 2] = cy + h / 2;
        boxes[i * 4 + 3] = cx + w / 2;
        scores[i] = ties ? std::floor(u(rng) * 8.0f) / 8.0f : u(rng);
    }
    /* a few duplicates and zero-area boxes */
    for (int64_t i = 0; i + 1 < n && i < 20; i += 2) std::memcpy(&boxes[(i + 1) * 4], &boxes[i * 4], 16);
    if (n > 30) boxes[30 * 4 + 2] = boxes[30 * 4 + 0];
}

bool run_nms_cpu(const std::vector<float> &boxes, const std::vector<float> &scores, double thr, int64_t max_keep,
                 std::vector<int64_t> &keep) {
    int64_t n = (int64_t)scores.size(), nk = -1;
    keep.assign(std::max<int64_t>(n, 1), -1);
    char err[512];
    int32_t rc = frcnn_nms_cpu(boxes.data(), scores.data(), n, thr, max_keep, keep.data(), &nk, err, sizeof err);
    if (rc != FRCNN_OK) {
        std::printf("  nms_cpu error %d: %s\n", rc, err);
        return false;
    }
    keep.resize(nk);
    return true;
}

void check_nms_invariants(const std::vector<float> &boxes, const std::vector<float> &scores, double thr,
                          const std::vector<int64_t> &keep) {
    const int64_t n = (int64_t)scores.size();
    std::vector<char> seen(n, 0);
    bool ok_range = true, ok_order = true, ok_iou = true;
    for (size_t k = 0; k < keep.size(); ++k) {
        int64_t i = keep[k];
        if (i < 0 || i >= n || seen[i]) { ok_range = false; break; }
        seen[i] = 1;
        if (k > 0 && scores[keep[k - 1]] < scores[i]) ok_order = false;
    }
    for (size_t a = 0; a < keep.size() && ok_range && a < 400; ++a)
        for (size_t b = a + 1; b < keep.size(); ++b)
            if ((double)ref_iou(&boxes[keep[a] * 4], &boxes[keep[b] * 4]) > thr) ok_iou = false;
    check(ok_range, "nms keep indices unique and in range");
    check(ok_order, "nms keep in non-increasing score order");
    check(ok_iou, "nms: no kept pair above the threshold");
}

/* torchvision RoIPool CPU forward, written as in torchvision. */
void ref_roi_pool(const std::vector<float> &in, int64_t C, int64_t H, int64_t W, const std::vector<float> &rois,
                  int64_t R, float scale, int64_t PH, int64_t PW, std::vector<float> &out, std::vector<int64_t> &am) {
    out.assign(R * C * PH * PW, 0.0f);
    am.assign(R * C * PH * PW, -1);
    for (int64_t n = 0; n < R; ++n) {
        const float *r = &rois[n * 5];
        int b = (int)r[0];
        int sw = (int)std::round(r[1] * scale), sh = (int)std::round(r[2] * scale);
        int ew = (int)std::round(r[3] * scale), eh = (int)std::round(r[4] * scale);
        int rw = std::max(ew - sw + 1, 1), rh = std::max(eh - sh + 1, 1);
        float bh = (float)rh / (float)PH, bw = (float)rw / (float)PW;
        for (int64_t ph = 0; ph < PH; ++ph)
            for (int64_t pw = 0; pw < PW; ++pw) {
                int hs = (int)std::floor((float)ph * bh), ws = (int)std::floor((float)pw * bw);
                int he = (int)std::ceil((float)(ph + 1) * bh), we = (int)std::ceil((float)(pw + 1) * bw);
                hs = std::min(std::max(hs + sh, 0), (int)H);
                he = std::min(std::max(he + sh, 0), (int)H);
                ws = std::min(std::max(ws + sw, 0), (int)W);
                we = std::min(std::max(we + sw, 0), (int)W);
                bool empty = he <= hs || we <= ws;
                for (int64_t c = 0; c < C; ++c) {
                    float mv = empty ? 0.0f : -FLT_MAX;
                    int64_t mi = -1;
                    const float *p = &in[(b * C + c) * H * W];
                    for (int h = hs; h < he; ++h)
                        for (int w = ws; w < we; ++w)
                            if (p[h * W + w] > mv) { mv = p[h * W + w]; mi = h * W + w; }
                    int64_t idx = ((n * C + c) * PH + ph) * PW + pw;
                    out[idx] = mv;
                    am[idx] = mi;
                }
            }
    }
}

void ref_roi_pool_backward(const std::vector<float> &go, const std::vector<int64_t> &am,
                           const std::vector<float> &rois, int64_t R, int64_t B, int64_t C, int64_t H, int64_t W,
                           int64_t PH, int64_t PW, std::vector<float> &gi) {
    gi.assign(B * C * H * W, 0.0f);
    for (int64_t n = 0; n < R; ++n) {
        int64_t b = (int64_t)rois[n * 5];
        for (int64_t c = 0; c < C; ++c)
            for (int64_t k = 0; k < PH * PW; ++k) {
                int64_t idx = (n * C + c) * PH * PW + k;
                if (am[idx] >= 0) gi[(b * C + c) * H * W + am[idx]] += go[idx];
            }
    }
}

/* Straight re-statement of torchvision's CPU roi_align (bilinear_interpolate per sample, no tables). */
struct RefAlignGeom {
    float sh, sw, bh, bw;
    int64_t gh, gw;
};

RefAlignGeom ref_align_geom(const float *r, float scale, int64_t PH, int64_t PW, int64_t sr, bool aligned) {
    float off = aligned ? 0.5f : 0.0f;
    float sw = r[1] * scale - off, sh = r[2] * scale - off, ew = r[3] * scale - off, eh = r[4] * scale - off;
    float rw = ew - sw, rh = eh - sh;
    if (!aligned) {
        rw = std::max(rw, 1.0f);
        rh = std::max(rh, 1.0f);
    }
    RefAlignGeom g;
    g.sh = sh;
    g.sw = sw;
    g.bh = rh / (float)PH;
    g.bw = rw / (float)PW;
    g.gh = sr > 0 ? sr : (int64_t)std::ceil(rh / (float)PH);
    g.gw = sr > 0 ? sr : (int64_t)std::ceil(rw / (float)PW);
    return g;
}

/* Returns false for an out-of-range sample; else the 4 corner offsets and weights. */
bool ref_bilinear(float y, float x, int64_t H, int64_t W, int64_t pos[4], float w[4]) {
    if (y < -1.0 || y > H || x < -1.0 || x > W) return false;
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
    if (yl >= H - 1) { yh = yl = H - 1; y = (float)yl; } else yh = yl + 1;
    if (xl >= W - 1) { xh = xl = W - 1; x = (float)xl; } else xh = xl + 1;
    float ly = y - yl, lx = x - xl, hy = 1. - ly, hx = 1. - lx;
    pos[0] = yl * W + xl; pos[1] = yl * W + xh; pos[2] = yh * W + xl; pos[3] = yh * W + xh;
    w[0] = hy * hx; w[1] = hy * lx; w[2] = ly * hx; w[3] = ly * lx;
    return true;
}

void ref_roi_align(const std::vector<float> &in, int64_t C, int64_t H, int64_t W, const std::vector<float> &rois,
                   int64_t R, float scale, int64_t PH, int64_t PW, int64_t sr, bool aligned, std::vector<float> &out) {
    out.assign((size_t)(R * C * PH * PW), 0.0f);
    for (int64_t n = 0; n < R; ++n) {
        const float *r = &rois[(size_t)(n * 5)];
        RefAlignGeom g = ref_align_geom(r, scale, PH, PW, sr, aligned);
        const float count = (float)std::max<int64_t>(g.gh * g.gw, 1);
        for (int64_t c = 0; c < C; ++c) {
            const float *x = &in[(size_t)(((int64_t)r[0] * C + c) * H * W)];
            for (int64_t ph = 0; ph < PH; ++ph)
                for (int64_t pw = 0; pw < PW; ++pw) {
                    float acc = 0.0f;
                    for (int64_t iy = 0; iy < g.gh; ++iy) {
                        float yy = g.sh + ph * g.bh + static_cast<float>(iy + .5f) * g.bh / static_cast<float>(g.gh);
                        for (int64_t ix = 0; ix < g.gw; ++ix) {
                            float xx = g.sw + pw * g.bw + static_cast<float>(ix + .5f) * g.bw / static_cast<float>(g.gw);
                            int64_t pos[4] = {0, 0, 0, 0};
                            float w[4] = {0, 0, 0, 0};
                            ref_bilinear(yy, xx, H, W, pos, w);
                            acc += w[0] * x[pos[0]] + w[1] * x[pos[1]] + w[2] * x[pos[2]] + w[3] * x[pos[3]];
                        }
                    }
                    out[(size_t)(((n * C + c) * PH + ph) * PW + pw)] = acc / count;
                }
        }
    }
}

void ref_roi_align_backward(const std::vector<float> &go, const std::vector<float> &rois, int64_t R, int64_t B,
                            int64_t C, int64_t H, int64_t W, float scale, int64_t PH, int64_t PW, int64_t sr,
                            bool aligned, std::vector<float> &gi) {
    gi.assign((size_t)(B * C * H * W), 0.0f);
    for (int64_t n = 0; n < R; ++n) {
        const float *r = &rois[(size_t)(n * 5)];
        RefAlignGeom g = ref_align_geom(r, scale, PH, PW, sr, aligned);
        const float count = (float)(g.gh * g.gw);
        for (int64_t c = 0; c < C; ++c) {
            float *x = &gi[(size_t)(((int64_t)r[0] * C + c) * H * W)];
            for (int64_t ph = 0; ph < PH; ++ph)
                for (int64_t pw = 0; pw < PW; ++pw) {
                    const float gv = go[(size_t)(((n * C + c) * PH + ph) * PW + pw)];
                    for (int64_t iy = 0; iy < g.gh; ++iy) {
                        float yy = g.sh + ph * g.bh + static_cast<float>(iy + .5f) * g.bh / static_cast<float>(g.gh);
                        for (int64_t ix = 0; ix < g.gw; ++ix) {
                            float xx = g.sw + pw * g.bw + static_cast<float>(ix + .5f) * g.bw / static_cast<float>(g.gw);
                            int64_t pos[4];
                            float w[4];
                            if (!ref_bilinear(yy, xx, H, W, pos, w)) continue;
                            for (int k = 0; k < 4; ++k) x[pos[k]] += gv * w[k] / count;
                        }
                    }
                }
        }
    }
}

#if defined(FRCNN_WITH_CUDA)
#define CK(call)                                                                               \
    do {                                                                                       \
        cudaError_t e_ = (call);                                                               \
        if (e_ != cudaSuccess) {                                                               \
            std::printf("  CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
            ++failures;                                                                        \
            return;                                                                            \
        }                                                                                      \
    } while (0)

template <class T>
T *to_device(const std::vector<T> &v) {
    T *d = nullptr;
    if (cudaMalloc(&d, std::max<size_t>(v.size(), 1) * sizeof(T)) != cudaSuccess) return nullptr;
    if (!v.empty()) cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
    return d;
}

template <class T>
std::vector<T> to_host(const T *d, size_t n) {
    std::vector<T> v(n);
    if (n) cudaMemcpy(v.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
    return v;
}

void cuda_nms(const std::vector<float> &boxes, const std::vector<float> &scores, double thr, int64_t max_keep,
              const std::vector<int64_t> &cpu_keep, const char *label) {
    const int64_t n = (int64_t)scores.size();
    float *db = to_device(boxes), *ds = to_device(scores);
    int64_t *dk = nullptr;
    CK(cudaMalloc(&dk, std::max<int64_t>(n, 1) * sizeof(int64_t)));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    char err[512];
    int64_t nk = -1;
    int32_t rc = frcnn_nms_cuda(db, ds, n, thr, max_keep, dk, &nk, s, err, sizeof err);
    if (rc != FRCNN_OK) {
        std::printf("  nms_cuda error %d: %s\n", rc, err);
        ++failures;
    } else {
        std::vector<int64_t> k = to_host(dk, (size_t)nk);
        bool same = k == cpu_keep;
        std::printf("  nms cuda %-28s kept %lld (cpu %lld) %s\n", label, (long long)nk, (long long)cpu_keep.size(),
                    same ? "identical" : "DIFFERENT");
        check(same, "nms cuda keep list identical to cpu");
        double ms = median_ms(7, [&] { frcnn_nms_cuda(db, ds, n, thr, max_keep, dk, &nk, s, err, sizeof err); });
        std::printf("  nms cuda %-28s %.3f ms\n", label, ms);
    }
    cudaFree(db);
    cudaFree(ds);
    cudaFree(dk);
    cudaStreamDestroy(s);
}

void cuda_roi_pool(const std::vector<float> &in, int64_t B, int64_t C, int64_t H, int64_t W,
                   const std::vector<float> &rois, int64_t R, float scale, int64_t PH, int64_t PW,
                   const std::vector<float> &cpu_out, const std::vector<int64_t> &cpu_am, const std::vector<float> &go,
                   const std::vector<float> &cpu_gi) {
    float *din = to_device(in), *dr = to_device(rois), *dgo = to_device(go);
    float *dout = nullptr, *dgi = nullptr;
    int64_t *dam = nullptr;
    const size_t no = (size_t)(R * C * PH * PW);
    CK(cudaMalloc(&dout, std::max<size_t>(no, 1) * sizeof(float)));
    CK(cudaMalloc(&dam, std::max<size_t>(no, 1) * sizeof(int64_t)));
    CK(cudaMalloc(&dgi, std::max<size_t>(in.size(), 1) * sizeof(float)));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    char err[512];
    int32_t rc = frcnn_roi_pool_forward_cuda(din, B, C, H, W, dr, R, scale, PH, PW, dout, dam, s, err, sizeof err);
    if (rc != FRCNN_OK) {
        std::printf("  roi_pool_forward_cuda error %d: %s\n", rc, err);
        ++failures;
        return;
    }
    rc = frcnn_roi_pool_backward_cuda(dgo, dam, dr, R, B, C, H, W, PH, PW, dgi, s, err, sizeof err);
    if (rc != FRCNN_OK) {
        std::printf("  roi_pool_backward_cuda error %d: %s\n", rc, err);
        ++failures;
        return;
    }
    std::vector<float> out = to_host(dout, no), gi = to_host(dgi, in.size());
    std::vector<int64_t> am = to_host(dam, no);
    bool same_out = true;
    for (size_t i = 0; i < no; ++i) if (!(out[i] == cpu_out[i])) same_out = false;
    bool same_am = am == cpu_am;
    double maxref = 0, maxdiff = 0;
    for (size_t i = 0; i < gi.size(); ++i) {
        maxref = std::max(maxref, (double)std::fabs(cpu_gi[i]));
        maxdiff = std::max(maxdiff, (double)std::fabs(gi[i] - cpu_gi[i]));
    }
    std::printf("  roi_pool cuda: output %s, argmax %s, grad_input max|diff| %.3g (max|ref| %.3g)\n",
                same_out ? "identical" : "DIFFERENT", same_am ? "identical" : "DIFFERENT", maxdiff, maxref);
    check(same_out, "roi_pool cuda output identical to cpu");
    check(same_am, "roi_pool cuda argmax identical to cpu");
    check(maxdiff <= 1e-5 * std::max(maxref, 1e-30), "roi_pool cuda grad_input within 1e-5 relative");
    double ms = median_ms(9, [&] {
        frcnn_roi_pool_forward_cuda(din, B, C, H, W, dr, R, scale, PH, PW, dout, dam, s, err, sizeof err);
        frcnn_roi_pool_backward_cuda(dgo, dam, dr, R, B, C, H, W, PH, PW, dgi, s, err, sizeof err);
    });
    std::printf("  roi_pool cuda forward+backward %.3f ms\n", ms);
    cudaFree(din); cudaFree(dr); cudaFree(dgo); cudaFree(dout); cudaFree(dam); cudaFree(dgi);
    cudaStreamDestroy(s);
}
void cuda_roi_align(const std::vector<float> &in, int64_t B, int64_t C, int64_t H, int64_t W,
                    const std::vector<float> &rois, int64_t R, float scale, int64_t PH, int64_t PW, int64_t sr,
                    int32_t aligned, const std::vector<float> &cpu_out, const std::vector<float> &go,
                    const std::vector<float> &cpu_gi, const std::vector<int64_t> &cpu_grid,
                    const std::vector<int64_t> &offsets, int64_t n_entries, const std::vector<int64_t> &cpu_index,
                    const std::vector<float> &cpu_weight) {
    float *din = to_device(in), *dr = to_device(rois), *dgo = to_device(go);
    int64_t *doff = to_device(offsets);
    float *dout = nullptr, *dgi = nullptr, *dw = nullptr;
    int64_t *dgrid = nullptr, *didx = nullptr;
    const size_t no = (size_t)(R * C * PH * PW);
    CK(cudaMalloc(&dout, std::max<size_t>(no, 1) * sizeof(float)));
    CK(cudaMalloc(&dgi, std::max<size_t>(in.size(), 1) * sizeof(float)));
    CK(cudaMalloc(&dgrid, std::max<int64_t>(2 * R, 1) * sizeof(int64_t)));
    CK(cudaMalloc(&didx, std::max<int64_t>(n_entries, 1) * sizeof(int64_t)));
    CK(cudaMalloc(&dw, std::max<int64_t>(n_entries, 1) * sizeof(float)));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    char err[512];
    int32_t rc = frcnn_roi_align_grid_cuda(dr, R, B, scale, PH, PW, sr, aligned, dgrid, s, err, sizeof err);
    if (rc == FRCNN_OK)
        rc = frcnn_roi_align_forward_cuda(din, B, C, H, W, dr, R, scale, PH, PW, sr, aligned, dout, s, err, sizeof err);
    if (rc == FRCNN_OK)
        rc = frcnn_roi_align_backward_cuda(dgo, dr, R, B, C, H, W, scale, PH, PW, sr, aligned, dgi, s, err,
                                           sizeof err);
    if (rc == FRCNN_OK)
        rc = frcnn_roi_align_weights_cuda(dr, R, B, H, W, scale, PH, PW, sr, aligned, doff, n_entries, didx, dw, s,
                                          err, sizeof err);
    if (rc != FRCNN_OK) {
        std::printf("  roi_align cuda error %d: %s\n", rc, err);
        ++failures;
        return;
    }
    std::vector<float> out = to_host(dout, no), gi = to_host(dgi, in.size()), w = to_host(dw, (size_t)n_entries);
    std::vector<int64_t> grid = to_host(dgrid, (size_t)(2 * R)), idx = to_host(didx, (size_t)n_entries);
    bool same_out = true;
    for (size_t i = 0; i < no; ++i) if (!(out[i] == cpu_out[i])) same_out = false;
    double maxref = 0, maxdiff = 0;
    for (size_t i = 0; i < gi.size(); ++i) {
        maxref = std::max(maxref, (double)std::fabs(cpu_gi[i]));
        maxdiff = std::max(maxdiff, (double)std::fabs(gi[i] - cpu_gi[i]));
    }
    bool same_w = idx == cpu_index && std::memcmp(w.data(), cpu_weight.data(), w.size() * sizeof(float)) == 0;
    std::printf("  roi_align cuda (sr %lld, aligned %d): grid %s, output %s, weights %s, grad_input max|diff| %.3g "
                "(max|ref| %.3g)\n", (long long)sr, (int)aligned, grid == cpu_grid ? "identical" : "DIFFERENT",
                same_out ? "identical" : "DIFFERENT", same_w ? "identical" : "DIFFERENT", maxdiff, maxref);
    check(grid == cpu_grid, "roi_align cuda grid identical to cpu");
    check(same_out, "roi_align cuda output identical to cpu");
    check(same_w, "roi_align cuda weights/indices identical to cpu");
    check(maxdiff <= 1e-5 * std::max(maxref, 1e-30), "roi_align cuda grad_input within 1e-5 relative");
    double ms = median_ms(9, [&] {
        frcnn_roi_align_forward_cuda(din, B, C, H, W, dr, R, scale, PH, PW, sr, aligned, dout, s, err, sizeof err);
        frcnn_roi_align_backward_cuda(dgo, dr, R, B, C, H, W, scale, PH, PW, sr, aligned, dgi, s, err, sizeof err);
    });
    std::printf("  roi_align cuda forward+backward %.3f ms\n", ms);
    cudaFree(din); cudaFree(dr); cudaFree(dgo); cudaFree(doff); cudaFree(dout); cudaFree(dgi);
    cudaFree(dgrid); cudaFree(didx); cudaFree(dw);
    cudaStreamDestroy(s);
}
#endif

}  // namespace

int main() {
    std::printf("frcnn_ops_check: abi %d, built_with_cuda %d, cuda devices %d\n", frcnn_abi_version(),
                frcnn_built_with_cuda(), frcnn_cuda_device_count());
    if (frcnn_abi_version() != FRCNN_ABI_VERSION) {
        std::printf("FAIL: abi version %d, header %d\n", frcnn_abi_version(), FRCNN_ABI_VERSION);
        return 1;
    }
    const bool cuda = frcnn_cuda_device_count() > 0;
    std::mt19937 rng(12345);
    char err[512];

    /* ---- NMS ---- */
    struct NmsCase { int64_t n; bool ties; double thr; int64_t max_keep; const char *label; };
    const NmsCase cases[] = {
        {0, false, 0.7, -1, "empty"},          {1, false, 0.7, -1, "one box"},
        {3000, false, 0.3, -1, "3000 thr 0.3"}, {3000, true, 0.5, -1, "3000 tied thr 0.5"},
        {3000, false, 0.7, -1, "3000 thr 0.7"}, {12000, false, 0.7, 2000, "12000 thr 0.7 keep<=2000"},
        {12000, true, 0.7, -1, "12000 tied thr 0.7"},
    };
    for (const NmsCase &c : cases) {
        std::vector<float> boxes, scores;
        make_boxes(rng, c.n, 600.0f, 800.0f, boxes, scores, c.ties);
        std::vector<int64_t> keep, full, ref = ref_nms(boxes, scores, c.thr);
        if (!run_nms_cpu(boxes, scores, c.thr, c.max_keep, keep) || !run_nms_cpu(boxes, scores, c.thr, -1, full)) {
            ++failures;
            continue;
        }
        check(full == ref, "nms cpu equals the torchvision-style reference");
        size_t pre = c.max_keep < 0 ? full.size() : std::min<size_t>((size_t)c.max_keep, full.size());
        check(keep.size() == pre && std::equal(keep.begin(), keep.end(), full.begin()),
              "nms max_keep result is a prefix of the unlimited result");
        check_nms_invariants(boxes, scores, c.thr, full);
        double ms = median_ms(7, [&] { run_nms_cpu(boxes, scores, c.thr, c.max_keep, keep); });
        std::printf("  nms cpu  %-28s kept %lld in %.3f ms\n", c.label, (long long)keep.size(), ms);
#if defined(FRCNN_WITH_CUDA)
        if (cuda) cuda_nms(boxes, scores, c.thr, c.max_keep, keep, c.label);
#endif
    }
    {   /* NaN score and negative n must be rejected with a message */
        std::vector<float> boxes(8, 1.0f), scores = {0.5f, NAN};
        int64_t keep[2], nk;
        check(frcnn_nms_cpu(boxes.data(), scores.data(), 2, 0.5, -1, keep, &nk, err, sizeof err) ==
                  FRCNN_ERR_INVALID_ARGUMENT && err[0] != 0, "nms rejects NaN scores");
        check(frcnn_nms_cpu(boxes.data(), scores.data(), -1, 0.5, -1, keep, &nk, err, sizeof err) ==
                  FRCNN_ERR_INVALID_ARGUMENT, "nms rejects negative n");
    }

    /* ---- RoIPool ---- */
    const int64_t B = 2, C = 64, H = 38, W = 50, R = 128, PH = 7, PW = 7;
    const float scale = 1.0f / 16.0f;
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::uniform_real_distribution<float> u(-100.0f, 900.0f);
    std::vector<float> in(B * C * H * W), rois(R * 5), go(R * C * PH * PW);
    for (float &v : in) v = g(rng);
    for (int64_t i = 0; i < 50; ++i) in[i * 7] = in[i * 7 + 1]; /* some ties */
    for (int64_t i = 0; i < 20; ++i) in[(i * 7919) % in.size()] = (i % 2) ? NAN : -INFINITY; /* never win */
    for (int64_t n = 0; n < R; ++n) {
        float x1 = u(rng), y1 = u(rng) * 0.75f, x2 = x1 + std::fabs(u(rng)) * 0.5f, y2 = y1 + std::fabs(u(rng)) * 0.4f;
        if (n % 17 == 0) x2 = x1 - 5.0f; /* degenerate */
        rois[n * 5 + 0] = (float)(n % B);
        rois[n * 5 + 1] = x1;
        rois[n * 5 + 2] = y1;
        rois[n * 5 + 3] = x2;
        rois[n * 5 + 4] = y2;
    }
    for (float &v : go) v = g(rng);
    std::vector<float> out(R * C * PH * PW), gi(in.size()), rout, rgi;
    std::vector<int64_t> am(out.size()), ram;
    int32_t rc = frcnn_roi_pool_forward_cpu(in.data(), B, C, H, W, rois.data(), R, scale, PH, PW, out.data(),
                                            am.data(), err, sizeof err);
    check(rc == FRCNN_OK, "roi_pool forward cpu returns OK");
    rc = frcnn_roi_pool_backward_cpu(go.data(), am.data(), rois.data(), R, B, C, H, W, PH, PW, gi.data(), err,
                                     sizeof err);
    check(rc == FRCNN_OK, "roi_pool backward cpu returns OK");
    ref_roi_pool(in, C, H, W, rois, R, scale, PH, PW, rout, ram);
    ref_roi_pool_backward(go, ram, rois, R, B, C, H, W, PH, PW, rgi);
    bool same_out = true, out_is_input = true;
    for (size_t i = 0; i < out.size(); ++i) {
        if (!(out[i] == rout[i])) same_out = false;
        int64_t n = (int64_t)i / (C * PH * PW), c = ((int64_t)i / (PH * PW)) % C;
        int64_t b = (int64_t)rois[n * 5];
        if (am[i] >= 0 && !(out[i] == in[(b * C + c) * H * W + am[i]])) out_is_input = false;
        if (am[i] < 0 && out[i] != 0.0f) out_is_input = false;
    }
    check(same_out && am == ram, "roi_pool cpu output/argmax equal the torchvision-style reference");
    check(out_is_input, "roi_pool output = input[argmax] (0 for empty bins)");
    check(std::memcmp(gi.data(), rgi.data(), gi.size() * sizeof(float)) == 0,
          "roi_pool cpu grad_input equals the sequential reference bit for bit");
    double ms = median_ms(9, [&] {
        frcnn_roi_pool_forward_cpu(in.data(), B, C, H, W, rois.data(), R, scale, PH, PW, out.data(), am.data(), err,
                                   sizeof err);
        frcnn_roi_pool_backward_cpu(go.data(), am.data(), rois.data(), R, B, C, H, W, PH, PW, gi.data(), err,
                                    sizeof err);
    });
    std::printf("  roi_pool cpu forward+backward (%lld rois, %lldx%lldx%lldx%lld) %.3f ms\n", (long long)R,
                (long long)B, (long long)C, (long long)H, (long long)W, ms);
    {   /* few rois: the direct (channel-plane) scan instead of the channels-last one */
        const int64_t r2 = 2;
        std::vector<float> o2(r2 * C * PH * PW), ro2;
        std::vector<int64_t> a2(o2.size()), ra2;
        std::vector<float> rois2(rois.begin(), rois.begin() + r2 * 5);
        rc = frcnn_roi_pool_forward_cpu(in.data(), B, C, H, W, rois2.data(), r2, scale, PH, PW, o2.data(), a2.data(),
                                        err, sizeof err);
        ref_roi_pool(in, C, H, W, rois2, r2, scale, PH, PW, ro2, ra2);
        bool same2 = rc == FRCNN_OK && a2 == ra2;
        for (size_t i = 0; i < o2.size() && same2; ++i) same2 = o2[i] == ro2[i];
        check(same2, "roi_pool cpu (few rois) equals the reference");
    }
    {   /* invalid batch index must be rejected */
        std::vector<float> bad = rois;
        bad[0] = 2.5f;
        check(frcnn_roi_pool_forward_cpu(in.data(), B, C, H, W, bad.data(), R, scale, PH, PW, out.data(), am.data(),
                                         err, sizeof err) == FRCNN_ERR_INVALID_ARGUMENT,
              "roi_pool rejects a non-integer batch index");
    }
#if defined(FRCNN_WITH_CUDA)
    if (cuda) cuda_roi_pool(in, B, C, H, W, rois, R, scale, PH, PW, out, am, go, gi);
#endif
    /* ---- RoIAlign (same inputs; two settings) ---- */
    const int32_t align_settings[2][2] = {{2, 0}, {0, 1}}; /* (sampling_ratio, aligned) */
    for (const auto &st : align_settings) {
        const int64_t sr = st[0];
        const int32_t aligned = st[1];
        std::vector<int64_t> grid((size_t)(2 * R));
        std::vector<float> aout(out.size()), agi(in.size()), raout, ragi;
        rc = frcnn_roi_align_grid_cpu(rois.data(), R, B, scale, PH, PW, sr, aligned, grid.data(), err, sizeof err);
        check(rc == FRCNN_OK, "roi_align grid cpu returns OK");
        rc = frcnn_roi_align_forward_cpu(in.data(), B, C, H, W, rois.data(), R, scale, PH, PW, sr, aligned,
                                         aout.data(), err, sizeof err);
        check(rc == FRCNN_OK, "roi_align forward cpu returns OK");
        rc = frcnn_roi_align_backward_cpu(go.data(), rois.data(), R, B, C, H, W, scale, PH, PW, sr, aligned,
                                          agi.data(), err, sizeof err);
        check(rc == FRCNN_OK, "roi_align backward cpu returns OK");
        ref_roi_align(in, C, H, W, rois, R, scale, PH, PW, sr, aligned != 0, raout);
        ref_roi_align_backward(go, rois, R, B, C, H, W, scale, PH, PW, sr, aligned != 0, ragi);
        bool grid_ok = true;
        for (int64_t n = 0; n < R; ++n) {
            RefAlignGeom rg = ref_align_geom(&rois[(size_t)(n * 5)], scale, PH, PW, sr, aligned != 0);
            if (grid[2 * n] != rg.gh || grid[2 * n + 1] != rg.gw) grid_ok = false;
        }
        check(grid_ok, "roi_align grid equals the reference");
        check(std::memcmp(aout.data(), raout.data(), aout.size() * sizeof(float)) == 0,
              "roi_align cpu output equals the torchvision-style reference bit for bit");
        check(std::memcmp(agi.data(), ragi.data(), agi.size() * sizeof(float)) == 0,
              "roi_align cpu grad_input equals the sequential reference bit for bit");
        /* sparse weights: sum_e w[e] * x[index[e]] / count must reproduce the forward (up to rounding) */
        std::vector<int64_t> offsets((size_t)R);
        int64_t n_entries = 0;
        for (int64_t n = 0; n < R; ++n) {
            offsets[(size_t)n] = n_entries;
            int64_t gh = std::max<int64_t>(grid[2 * n], 0), gw = std::max<int64_t>(grid[2 * n + 1], 0);
            n_entries += PH * PW * gh * gw * 4;
        }
        std::vector<int64_t> index((size_t)n_entries);
        std::vector<float> weight((size_t)n_entries);
        rc = frcnn_roi_align_weights_cpu(rois.data(), R, B, H, W, scale, PH, PW, sr, aligned, offsets.data(),
                                         n_entries, index.data(), weight.data(), err, sizeof err);
        check(rc == FRCNN_OK, "roi_align weights cpu returns OK");
        double wmax = 0, wdiff = 0;
        bool idx_ok = true;
        for (int64_t n = 0; n < R; ++n) {
            int64_t gh = std::max<int64_t>(grid[2 * n], 0), gw = std::max<int64_t>(grid[2 * n + 1], 0);
            int64_t spb = gh * gw * 4;
            float count = (float)std::max<int64_t>(grid[2 * n] * grid[2 * n + 1], 1);
            for (int64_t c = 0; c < C; c += 7)
                for (int64_t k = 0; k < PH * PW; ++k) {
                    double acc = 0;
                    for (int64_t e = offsets[(size_t)n] + k * spb, j = 0; j < spb; ++j, ++e) {
                        int64_t ix = index[(size_t)e];
                        if (ix < 0 || ix > B * H * W) { idx_ok = false; continue; }
                        if (ix == B * H * W) continue;
                        int64_t b = ix / (H * W), p = ix % (H * W);
                        acc += (double)weight[(size_t)e] * in[(size_t)((b * C + c) * H * W + p)];
                    }
                    float ref = aout[(size_t)((n * C + c) * PH * PW + k)];
                    wmax = std::max(wmax, (double)std::fabs(ref));
                    wdiff = std::max(wdiff, std::fabs(acc / count - ref));
                }
        }
        check(idx_ok, "roi_align weights: indices inside [0, batch * H * W]");
        check(wdiff <= 1e-5 * std::max(wmax, 1e-30), "roi_align weights reproduce the forward within 1e-5 relative");
        double ams = median_ms(5, [&] {
            frcnn_roi_align_forward_cpu(in.data(), B, C, H, W, rois.data(), R, scale, PH, PW, sr, aligned,
                                        aout.data(), err, sizeof err);
            frcnn_roi_align_backward_cpu(go.data(), rois.data(), R, B, C, H, W, scale, PH, PW, sr, aligned,
                                         agi.data(), err, sizeof err);
        });
        std::printf("  roi_align cpu (sr %lld, aligned %d) forward+backward %.3f ms, %lld sparse entries, weights "
                    "max|diff| %.3g\n", (long long)sr, (int)aligned, ams, (long long)n_entries, wdiff);
#if defined(FRCNN_WITH_CUDA)
        if (cuda)
            cuda_roi_align(in, B, C, H, W, rois, R, scale, PH, PW, sr, aligned, aout, go, agi, grid, offsets,
                           n_entries, index, weight);
#endif
    }
    {   /* invalid batch index / aligned flag must be rejected */
        std::vector<float> bad = rois, o(out.size());
        bad[0] = 2.5f;
        check(frcnn_roi_align_forward_cpu(in.data(), B, C, H, W, bad.data(), R, scale, PH, PW, 0, 0, o.data(), err,
                                          sizeof err) == FRCNN_ERR_INVALID_ARGUMENT,
              "roi_align rejects a non-integer batch index");
        check(frcnn_roi_align_forward_cpu(in.data(), B, C, H, W, rois.data(), R, scale, PH, PW, 0, 7, o.data(), err,
                                          sizeof err) == FRCNN_ERR_INVALID_ARGUMENT,
              "roi_align rejects aligned values other than 0/1");
    }
    if (!cuda) {
        int64_t nk = 0;
        rc = frcnn_nms_cuda(nullptr, nullptr, 0, 0.5, -1, nullptr, &nk, nullptr, err, sizeof err);
        std::printf("  no CUDA device: nms_cuda returns %d (%s)\n", rc, err);
        check(rc == FRCNN_ERR_NO_CUDA, "cuda entry point without a device returns FRCNN_ERR_NO_CUDA");
    }
    std::printf("%s (%d failure%s)\n", failures == 0 ? "PASS" : "FAIL", failures, failures == 1 ? "" : "s");
    return failures == 0 ? 0 : 1;
}
