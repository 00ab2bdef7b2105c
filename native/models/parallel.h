// Work split over a few threads of our own, for the places where libtorch's intra-op pool has one thread while the
// BLAS runs several (Debian's libtorch on 2-vCPU machines): the loss's log-softmax rows (models/loss.cc) and
// stacks of small attention products (models/matmul.cc). Threads are started per call and joined before it
// returns: there is no pool to own, and the ~50 us a thread costs is why each caller has a minimum size.
#pragma once
#include <ATen/ThreadLocalState.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace tc {

// Joins its threads when it goes out of scope, also when starting one of them threw.
struct JoinAll {
  std::vector<std::thread> threads;
  ~JoinAll() {
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
};

// f(begin, end) over [0, count) in `workers` contiguous chunks: the first on this thread, the others on threads
// that carry this one's grad mode, inference mode and dispatch state. Joined before returning, errors rethrown.
template <typename F>
void for_chunks(int64_t count, int64_t workers, const F& f) {
  if (workers <= 1) return f(0, count);
  const int64_t per = (count + workers - 1) / workers;
  const at::ThreadLocalState state;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  {
    JoinAll pool;
    for (int64_t w = 1; w < workers && w * per < count; ++w) {
      pool.threads.emplace_back([&, w] {
        try {
          at::ThreadLocalStateGuard guard(state);
          f(w * per, std::min(count, (w + 1) * per));
        } catch (...) {
          errors[size_t(w)] = std::current_exception();
        }
      });
    }
    try {
      f(0, std::min(count, per));
    } catch (...) {
      errors[0] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace tc
