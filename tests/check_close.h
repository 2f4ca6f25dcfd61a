#pragma once
// check_close: element-wise comparison of two value lists inside a doctest case, with a
// relative-and-absolute tolerance, max |got − want| / (1 + |want|) ≤ tol. On failure the
// report names the worst element and both values.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

namespace hqlt::testing {

inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = got[i] == want[i] ? 0.0 : std::abs(got[i] - want[i]) / (1 + std::abs(want[i]));
    if (std::isnan(e)) e = INFINITY;
    if (e > worst) worst = e, at = i;
  }
  if (got.empty()) return;
  INFO("worst element " << at << " of " << got.size() << ": got " << got[at] << ", want " << want[at]);
  CHECK(worst <= tol);
}

}  // namespace hqlt::testing
