#pragma once
// The one way the test suite compares computed numbers with expected ones: the normwise
// relative error
//
//   error(got, want) = max_i |got_i − want_i| / max_i |scale_i|      (scale = want by default)
//
// — the largest deviation measured against the largest expected magnitude, so it does not
// depend on the units of the tensor and is not fooled by elements that happen to be near
// zero. A NaN anywhere makes the error infinite. `scale` exists for the rare output whose
// exact value vanishes (a gradient that is zero up to rounding): it is then measured
// against the scale of a sibling result instead of its own.
//
// expect_close CHECKs the error inside a doctest case and, on failure, names the worst
// element and both values. For f32 results, f32_tolerance turns the error of the plain
// reference run in f32 (against itself in f64) into the bound the fused op must meet, so
// tolerances follow the problem's conditioning instead of a fixed guess.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/tensor.h"

namespace hqlt::testing {

struct Comparison {
  double error = 0;  // the normwise relative error
  size_t worst = 0;  // the element with the largest deviation
};

inline Comparison compare(const std::vector<double>& got, const std::vector<double>& want,
                          const std::vector<double>& scale) {
  REQUIRE(got.size() == want.size());
  Comparison c;
  double deviation = 0, magnitude = 1e-300;
  for (double s : scale) magnitude = std::max(magnitude, std::abs(s));
  for (size_t i = 0; i < got.size(); ++i) {
    double d = got[i] == want[i] ? 0.0 : std::abs(got[i] - want[i]);
    if (std::isnan(d)) d = INFINITY;
    if (d > deviation) deviation = d, c.worst = i;
  }
  c.error = deviation == 0 ? 0.0 : deviation / magnitude;
  return c;
}

inline Comparison compare(const std::vector<double>& got, const std::vector<double>& want) {
  return compare(got, want, want);
}

// Tensors of any dtype and device; shapes must match.
inline double max_error(const Tensor& got, const Tensor& want, const Tensor& scale = Tensor()) {
  HQLT_CHECK(got.shape() == want.shape(), "max_error: shapes ", shape_str(got.shape()), " and ",
             shape_str(want.shape()), " differ");
  const std::vector<double> w = want.to(Device::cpu).to_vector();
  return compare(got.to(Device::cpu).to_vector(), w, scale.defined() ? scale.to(Device::cpu).to_vector() : w).error;
}

// `scale`: measure the deviation against this result's magnitude instead of want's (see above).
inline void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                         const std::vector<double>& scale) {
  const Comparison c = compare(got, want, scale);
  if (got.empty()) return;
  INFO("normwise relative error " << c.error << " > " << tol << "; worst element " << c.worst << " of " << got.size()
                                  << ": got " << got[c.worst] << ", want " << want[c.worst]);
  CHECK(c.error <= tol);
}

inline void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  expect_close(got, want, tol, want);
}

inline void expect_close(const Tensor& got, const Tensor& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  expect_close(got.to(Device::cpu).to_vector(), want.to(Device::cpu).to_vector(), tol);
}

// The bound for an f32 result whose plain reference, run in f32, is `reference_error` away
// from the f64 truth: the fused op may be up to ten times less accurate than the plain
// composition (it sums in another order and through other intermediates); the floor keeps a reference that
// happens to be exact from demanding exactness (1e-5: some eighty f32 roundings, what a sum
// over a chunk of 64 in another order can cost).
inline double f32_tolerance(double reference_error) { return std::max(1e-5, 10 * reference_error); }

// The bound a fused op's result of dtype `dt` must meet against the f64 reference `ref`:
// 1e-10 in f64; in f32, f32_tolerance of the same reference run in f32 (`ref32`), the error
// measured against `scale` (default: `ref`) as the fused result's will be.
inline double reference_tolerance(DType dt, const Tensor& ref32, const Tensor& ref, const Tensor& scale = Tensor()) {
  return dt == DType::f64 ? 1e-10 : f32_tolerance(max_error(ref32, ref, scale));
}

}  // namespace hqlt::testing
