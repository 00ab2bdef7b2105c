#include "addon/allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace tc {

#if TORCH_VERSION_MAJOR < 2

namespace {

constexpr size_t kAlign = 64;                // AVX-512 friendly, as c10's default allocator
constexpr size_t kMinCached = 1 << 20;       // small blocks: glibc already reuses them well

// Data pointer and context are the same pointer (libtorch's raw_allocate requires it), so block sizes
// live in a side table.
class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    const size_t total = std::max(kAlign, (n + kAlign - 1) / kAlign * kAlign);
    void* p = take(total);
    if (!p) {
      if (posix_memalign(&p, kAlign, total) != 0) throw std::bad_alloc();
      if (total >= kMinCached) {
        auto& c = cache();
        std::lock_guard<std::mutex> g(c.m);
        c.size_of[p] = total;
      }
    }
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

 private:
  struct Cache {
    std::mutex m;
    std::unordered_map<size_t, std::vector<void*>> free;  // by size
    std::unordered_map<void*, size_t> size_of;             // every live or cached large block
    size_t bytes = 0;
    size_t max_bytes = size_t(1) << 30;  // TORCH_CAPTION_ALLOCATOR_CACHE_MB overrides
  };

 public:
  static Cache& cache() {
    static Cache* c = new Cache();  // intentionally never destroyed: tensors may be freed during exit
    return *c;
  }

  static void* take(size_t total) {
    if (total < kMinCached) return nullptr;
    auto& c = cache();
    std::lock_guard<std::mutex> g(c.m);
    auto it = c.free.find(total);
    if (it == c.free.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    c.bytes -= total;
    return p;
  }

  static void release(void* p) {
    if (!p) return;
    auto& c = cache();
    {
      std::lock_guard<std::mutex> g(c.m);
      auto it = c.size_of.find(p);
      if (it != c.size_of.end()) {
        if (c.bytes + it->second <= c.max_bytes) {
          c.free[it->second].push_back(p);
          c.bytes += it->second;
          return;
        }
        c.size_of.erase(it);
      }
    }
    std::free(p);
  }
};

}  // namespace

bool install_caching_cpu_allocator() {
  const char* v = std::getenv("TORCH_CAPTION_MALLOC");
  if (v && std::strcmp(v, "default") == 0) return false;
  if (const char* mb = std::getenv("TORCH_CAPTION_ALLOCATOR_CACHE_MB")) {
    auto& c = CachingCpuAllocator::cache();
    std::lock_guard<std::mutex> g(c.m);
    c.max_bytes = size_t(std::strtoull(mb, nullptr, 10)) << 20;
  }
  static CachingCpuAllocator* allocator = new CachingCpuAllocator();  // lives as long as the process
  c10::SetCPUAllocator(allocator, /*priority=*/1);
  return true;
}

#else

// libtorch 2.x changed the Allocator interface; its own allocator is used there.
bool install_caching_cpu_allocator() { return false; }

#endif

}  // namespace tc
