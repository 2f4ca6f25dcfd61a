#pragma once
// run_on_both: runs one differentiable function on CPU inputs and on copies of them on the
// GPU, back-propagates the same random upstream gradient through both, and compares the
// GPU output and every input gradient with the CPU's (the CPU kernels are the reference,
// themselves checked against plain loops and finite differences in tests/ops/).
// GPU outputs and gradients come from allocator blocks poisoned with NaN first, so an
// element a kernel forgets to write fails the comparison.
#include <functional>
#include <initializer_list>
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

  // Poison the size classes of the output and of every gradient.
  poison_next_allocations(y.numel(), y.dtype(), 8);
  for (const Tensor& t : cpu) poison_next_allocations(t.numel(), t.dtype(), 8);
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

// One result of a kernel under test: its name, the GPU's tensor and the CPU's.
struct GpuCpuPair {
  const char* name;
  Tensor gpu, cpu;
};

// Each GPU result lives on cuda and matches the CPU's within tol (check_close).
inline void check_pairs(const char* what, std::initializer_list<GpuCpuPair> pairs, double tol) {
  for (const GpuCpuPair& p : pairs) {
    INFO(what << " " << p.name);
    REQUIRE(p.gpu.device() == Device::cuda);
    expect_close(p.gpu.to(Device::cpu).to_vector(), p.cpu.to_vector(), tol);
  }
}

// Tolerance for f32 (relative to 1 + |want|) and for f64.
inline double tol_for(DType dt) { return dt == DType::f32 ? 1e-5 : 1e-12; }

}  // namespace hqlt::testing
