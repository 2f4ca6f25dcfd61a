#pragma once
// The lengths every test of a chunked op visits (the delta rule, the Delayed-Chunk hybrid,
// chunked linear attention; on the CPU and on the GPU): for each chunk size C of 8, 16 and
// 64, T = 1 (one token), 7 (a partial first chunk), C (exactly one chunk), C + 1 (one
// token into the second) and 300 (many chunks ending in a partial one).
#include <cstdint>

namespace hqlt::testing {

template <typename F>
void for_each_chunked_length(F&& visit) {
  for (int64_t chunk : {8, 16, 64})
    for (int64_t T : {int64_t(1), int64_t(7), chunk, chunk + 1, int64_t(300)}) visit(chunk, T);
}

}  // namespace hqlt::testing
