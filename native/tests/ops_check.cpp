/*
 * frcnn_ops_check: self-test of libfrcnn_ops on random inputs (fixed seed).
 *
 * CPU: NMS and RoIPool are compared with straightforward re-statements of torchvision's CPU kernels
 * written here (O(n^2) NMS over a stable sort, RoIPool scan, backward in (roi, c, ph, pw) order),
 * plus invariants (keep indices unique and in range, scores non-increasing, max_keep prefix, no
 * two kept boxes above the threshold; argmax inside its bin, output = input[argmax]).
 * CUDA (when frcnn_cuda_device_count() > 0): the same inputs through the CUDA entry points; NMS keep
 * lists identical, RoIPool output and argmax identical, grad_input within 1e-5 * max|grad_input|.
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
    if (!cuda) {
        int64_t nk = 0;
        rc = frcnn_nms_cuda(nullptr, nullptr, 0, 0.5, -1, nullptr, &nk, nullptr, err, sizeof err);
        std::printf("  no CUDA device: nms_cuda returns %d (%s)\n", rc, err);
        check(rc == FRCNN_ERR_NO_CUDA, "cuda entry point without a device returns FRCNN_ERR_NO_CUDA");
    }
    std::printf("%s (%d failure%s)\n", failures == 0 ? "PASS" : "FAIL", failures, failures == 1 ? "" : "s");
    return failures == 0 ? 0 : 1;
}
