#pragma once
// The gradient-check harness every op test uses.
//
// gradcheck(f, inputs): perturbs every element of every f64 input that requires grad by
// ±eps (central differences), and compares d(loss)/d(element) with the tape's gradient,
// where loss = Σ out ⊙ w for a fixed random w (so every output element counts, with a
// different weight). Passes when |analytic − numeric| ≤ atol + rtol·|numeric| everywhere;
// the report names the worst element.
//
// compare_f32_with_f64(f, inputs): runs f forward and backward in f64 and again on f32
// copies of the inputs, and checks the f32 output and gradients against the f64 ones
// (max error relative to the f64 tensor's largest magnitude).
#include <functional>
#include <string>
#include <vector>

#include "compare.h"
#include "engine/autograd.h"
#include "engine/rng.h"

namespace hqlt::testing {

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
};

struct CheckResult {
  bool ok = true;
  double worst_error = 0;  // the largest error found, in the check's own measure
  std::string report;      // where the worst element is, and its values
};

CheckResult gradcheck(const OpFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt = {});
CheckResult compare_f32_with_f64(const OpFn& f, const std::vector<Tensor>& inputs, double tol = 1e-4);

// A fresh f64 leaf tensor of normal values that requires grad.
Tensor leaf(const Shape& shape, double scale = 1.0, DType dtype = DType::f64);
// A leaf with the given shape whose storage is laid out transposed (last two dims swapped):
// non-contiguous, to exercise strided inputs.
Tensor leaf_transposed(const Shape& shape, double scale = 1.0);
// A fresh f64 leaf of uniform values in [low, high).
Tensor leaf_uniform(const Shape& shape, double low, double high);

// A fresh leaf (requires grad) on `device` holding t's values in dtype dt; `strided` lays it
// out with the last two dims swapped in memory. Undefined stays undefined.
Tensor leaf_copy(const Tensor& t, DType dt, bool strided = false, Device device = Device::cpu);

}  // namespace hqlt::testing

// Checks one op both ways, inside a doctest case: gradcheck in f64 and f32-vs-f64.
#define HQLT_CHECK_GRADIENTS(f, inputs)                                         \
  do {                                                                          \
    auto hqlt_gc = ::hqlt::testing::gradcheck(f, inputs);                        \
    INFO("gradcheck: " << hqlt_gc.report);                                     \
    CHECK(hqlt_gc.ok);                                                          \
    auto hqlt_fc = ::hqlt::testing::compare_f32_with_f64(f, inputs);             \
    INFO("f32 vs f64: " << hqlt_fc.report);                                    \
    CHECK(hqlt_fc.ok);                                                          \
  } while (0)
