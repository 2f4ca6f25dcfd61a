#include "engine/allocator.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/error.h"

#ifdef HQLT_HAS_CUDA
#include "engine/cuda/runtime.h"
#endif

namespace hqlt::memory {
namespace {

constexpr size_t kAlignment = 64;

// One pool per device: free lists keyed by size class, and the counters. At exit the
// cached host blocks go back to the system, so a leak checker sees every block freed;
// device blocks are left to the driver, which may already be shutting down by then.
struct Pool {
  explicit Pool(Device d) : device(d) {}
  ~Pool() {
    if (device == Device::cpu)
      for (auto& entry : free_blocks)
        for (void* block : entry.second) std::free(block);
  }
  Device device;
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  Stats stats;
};

Pool& pool(Device device) {
  static Pool cpu_pool(Device::cpu), cuda_pool(Device::cuda);
  return device == Device::cpu ? cpu_pool : cuda_pool;
}

void* system_allocate(size_t bytes, Device device) {
  if (device == Device::cpu) {
    void* p = std::aligned_alloc(kAlignment, bytes);
    HQLT_CHECK(p != nullptr, "allocator: out of host memory allocating ", bytes, " bytes");
    return p;
  }
#ifdef HQLT_HAS_CUDA
  return cuda::device_malloc(bytes);
#else
  fail("allocator: this hqlt was built without CUDA; rebuild with -DHQLT_CUDA=ON to use device cuda");
#endif
}

void system_free(void* p, Device device) {
  if (device == Device::cpu) {
    std::free(p);
    return;
  }
#ifdef HQLT_HAS_CUDA
  cuda::device_free(p);
#endif
}

std::atomic<bool> poisoning{false};

void* handed_out(void* ptr, size_t bytes, Device device) {
  if (!poisoning.load(std::memory_order_relaxed)) return ptr;
  if (device == Device::cpu) {
    std::memset(ptr, 0xFF, bytes);
  } else {
#ifdef HQLT_HAS_CUDA
    cuda::memset_device(ptr, 0xFF, bytes);
#endif
  }
  return ptr;
}

}  // namespace

void set_poison(bool on) { poisoning.store(on); }
bool poison() { return poisoning.load(); }

size_t size_class(size_t bytes) {
  size_t r = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (r == 0) r = kAlignment;
  // Above 64 KiB round up to an eighth of the enclosing power of two, so that buffers of
  // slightly different sizes (batches of different lengths) share a class; waste < 12.5%.
  if (r > (size_t(64) << 10)) {
    size_t top = size_t(1) << (63 - __builtin_clzll(r));
    size_t step = top / 8;
    r = (r + step - 1) / step * step;
  }
  return r;
}

void* allocate(size_t bytes, Device device) {
  // An empty tensor owns no memory on any device (so a zero-size cuda tensor can exist,
  // and be checked against, on a machine without a GPU).
  if (bytes == 0) return nullptr;
  size_t cls = size_class(bytes);
  Pool& p = pool(device);
  void* ptr = nullptr;
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.stats.allocations++;
    auto it = p.free_blocks.find(cls);
    if (it != p.free_blocks.end() && !it->second.empty()) {
      ptr = it->second.back();
      it->second.pop_back();
      p.stats.cached -= cls;
      p.stats.in_use += cls;
      if (p.stats.in_use > p.stats.peak) p.stats.peak = p.stats.in_use;
    }
  }
  if (ptr == nullptr) {
    ptr = system_allocate(cls, device);
    std::lock_guard<std::mutex> lock(p.mutex);
    p.stats.system_allocations++;
    p.stats.in_use += cls;
    if (p.stats.in_use > p.stats.peak) p.stats.peak = p.stats.in_use;
  }
  return handed_out(ptr, cls, device);  // outside the lock: it may fill the block
}

void deallocate(void* ptr, size_t bytes, Device device) {
  if (!ptr) return;
  size_t cls = size_class(bytes);
  Pool& p = pool(device);
  std::lock_guard<std::mutex> lock(p.mutex);
  p.free_blocks[cls].push_back(ptr);
  p.stats.in_use -= cls;
  p.stats.cached += cls;
}

Stats stats(Device device) {
  Pool& p = pool(device);
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.stats;
}

void reset_peak(Device device) {
  Pool& p = pool(device);
  std::lock_guard<std::mutex> lock(p.mutex);
  p.stats.peak = p.stats.in_use;
}

void empty_cache(Device device) {
  Pool& p = pool(device);
  std::lock_guard<std::mutex> lock(p.mutex);
  for (auto& [cls, blocks] : p.free_blocks)
    for (void* b : blocks) system_free(b, device);
  p.free_blocks.clear();
  p.stats.cached = 0;
}

}  // namespace hqlt::memory
