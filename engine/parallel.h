#pragma once
// Threading policy: OpenMP over independent work, never nested. A kernel asks
// `should_parallelize(work)` so that tiny tensors do not pay the fork/join cost.
#include <cstdint>

namespace hqlt {

void set_num_threads(int n);  // 0 or less: OpenMP's default
int num_threads();
bool in_parallel_region();
// True when `work` (roughly: elements touched) is worth splitting across threads.
inline bool should_parallelize(int64_t work) { return work >= (int64_t(1) << 15) && !in_parallel_region(); }

}  // namespace hqlt
