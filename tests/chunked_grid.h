#pragma once
// What the tests of the chunked ops (the delta rule, the Delayed-Chunk hybrid, chunked
// linear attention) share. The lengths every test of a chunked op visits, on the CPU and on
// the GPU: for each chunk size C of 8, 16 and 64, T = 1 (one token), 7 (a partial first
// chunk), C (exactly one chunk), C + 1 (one token into the second) and 300 (many chunks
// ending in a partial one).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hqlt::testing {

template <typename F>
void for_each_chunked_length(F&& visit) {
  for (int64_t chunk : {8, 16, 64})
    for (int64_t T : {int64_t(1), int64_t(7), chunk, chunk + 1, int64_t(300)}) visit(chunk, T);
}

// Row `at`..`at + d` of x, ℓ2-normalised as the delta rule's Q̂, K̂ are when `l2` (ε = 1e-6
// inside the root), for the plain per-token loops the tests compare the ops with.
inline std::vector<double> plain_row(const std::vector<double>& x, size_t at, int64_t d, bool l2) {
  std::vector<double> y(x.begin() + long(at), x.begin() + long(at + size_t(d)));
  if (l2) {
    double ss = 0;
    for (double e : y) ss += e * e;
    for (double& e : y) e /= std::sqrt(ss + 1e-6);
  }
  return y;
}

}  // namespace hqlt::testing
