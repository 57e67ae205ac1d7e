/* CPU threading helpers shared by the RoI ops (C++ only, not part of the ABI). */
#ifndef FRCNN_CPU_PARALLEL_H
#define FRCNN_CPU_PARALLEL_H

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <system_error>
#include <thread>
#include <vector>

/*
 * Number of worker threads for `work` element operations over `channels` independent channels:
 * FRCNN_OPS_THREADS if set (>= 1), else the hardware concurrency (max 16); 1 for small work (thread
 * start-up would cost more than it saves); never more than the channels.
 */
inline int frcnn_thread_count(int64_t channels, double work) {
    int t = 0;
    if (const char *env = std::getenv("FRCNN_OPS_THREADS")) t = std::atoi(env);
    if (t <= 0) {
        unsigned hc = std::thread::hardware_concurrency();
        t = hc == 0 ? 1 : (int)std::min(hc, 16u);
    }
    if (work < 2e5) t = 1;
    if ((int64_t)t > channels) t = (int)std::max<int64_t>(channels, 1);
    return t;
}

/*
 * Runs fn(begin, end, slot) over [0, count) split into at most `threads` contiguous ranges; slot is the
 * range number (0 .. threads-1). Where no thread can be started, the range runs on the caller's thread.
 * fn must not throw.
 */
template <class F>
void frcnn_parallel_ranges(int64_t count, int threads, F fn) {
    if (threads <= 1 || count <= 1) {
        fn((int64_t)0, count, 0);
        return;
    }
    std::vector<std::thread> pool;
    const int64_t chunk = (count + threads - 1) / threads;
    for (int k = 1; k < threads; ++k) {
        const int64_t b = k * chunk, e = std::min(count, b + chunk);
        if (b >= e) break;
        try {
            pool.emplace_back([=]() { fn(b, e, k); });
        } catch (const std::system_error &) {
            fn(b, e, k);
        }
    }
    fn((int64_t)0, std::min(chunk, count), 0);
    for (auto &th : pool) th.join();
}

#endif /* FRCNN_CPU_PARALLEL_H */
