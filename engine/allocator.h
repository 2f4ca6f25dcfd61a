#pragma once
// The caching allocator. On our VMs the first touch of freshly mapped memory costs about
// 3 ms per MB, so an engine that hands activation buffers back to the OS every step pays
// that again every step. Freed blocks are kept in size-class free lists and reused; only
// empty_cache() returns them. Blocks are 64-byte aligned (one cache line, one zmm load).
//
// Counters are per device: bytes handed out and not yet freed (in_use), the highest that
// ever reached since the last reset_peak() (peak), and bytes parked in the cache (cached).
#include <cstddef>

#include "engine/dtype.h"

namespace hqlt::memory {

struct Stats {
  size_t in_use = 0;
  size_t peak = 0;
  size_t cached = 0;
  size_t allocations = 0;       // calls to allocate()
  size_t system_allocations = 0;  // of those, how many had to ask the system
};

// Zero bytes: returns nullptr and touches nothing (empty tensors own no memory).
void* allocate(size_t bytes, Device device);
void deallocate(void* ptr, size_t bytes, Device device);

Stats stats(Device device = Device::cpu);
void reset_peak(Device device = Device::cpu);
// Returns every cached (free) block to the system.
void empty_cache(Device device = Device::cpu);
// The size a request of `bytes` is rounded up to (its size class).
size_t size_class(size_t bytes);

// A check for the tests: while on, every block handed out (fresh or from the cache) is first
// filled with 0xFF bytes — NaN in f32 and f64 — so an element an op forgets to write shows up
// as NaN in its result, on either device. Off by default (one memset per allocation).
void set_poison(bool on);
bool poison();

}  // namespace hqlt::memory
