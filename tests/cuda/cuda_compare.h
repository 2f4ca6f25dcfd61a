#pragma once
// run_on_both: runs one differentiable function on CPU inputs and on copies of them on the
// GPU, back-propagates the same random upstream gradient through both, and compares the
// GPU output and every input gradient with the CPU's (the CPU kernels are the reference,
// themselves checked against plain loops and finite differences in tests/ops/).
// GPU outputs and gradients come from allocator blocks poisoned with NaN (devices.h), so an
// element a kernel forgets to write fails the comparison.
#include <functional>
#include <vector>

#include "compare.h"
#include "cuda_test_utils.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace hqlt::testing {

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

inline void run_on_both(const TensorFn& f, const std::vector<Tensor>& cpu_inputs, double tol) {
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : cpu_inputs) {
    cpu.push_back(t.detach().contiguous().set_requires_grad(true));
    gpu.push_back(t.detach().contiguous().to(Device::cuda).set_requires_grad(true));
  }
  Tensor y = f(cpu);
  Tensor dy = randn(y.shape(), y.dtype());
  y.backward(dy);

  const PoisonedAllocations poisoned;
  Tensor yd = f(gpu);
  REQUIRE(yd.device() == Device::cuda);
  yd.backward(dy.to(Device::cuda));

  INFO("forward");
  expect_close(yd.to(Device::cpu).to_vector(), y.to_vector(), tol);
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO("gradient of input " << i);
    REQUIRE(gpu[i].grad().defined());
    REQUIRE(gpu[i].grad().device() == Device::cuda);
    expect_close(gpu[i].grad().to(Device::cpu).to_vector(), cpu[i].grad().to_vector(), tol);
  }
}

// The normwise relative bounds (compare.h) of the GPU against the CPU: for element-wise
// and GEMM results (tol_for), and for reductions, whose sums the two devices order
// differently (reduction_tol).
inline double tol_for(DType dt) { return dt == DType::f32 ? 1e-5 : 1e-12; }
inline double reduction_tol(DType dt) { return dt == DType::f32 ? 1e-4 : 1e-10; }

}  // namespace hqlt::testing
