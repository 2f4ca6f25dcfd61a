// The optimiser on the GPU against the CPU: AdamW steps (both decay groups, f32 and f64),
// the gradient norm and clipping, and Module::to(Device) keeping leaves and values.
#include <doctest/doctest.h>

#include <vector>

#include "compare.h"
#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "nn/adamw.h"
#include "nn/clip.h"
#include "nn/linear.h"

using namespace hqlt;
using hqlt::testing::expect_close;

TEST_SUITE("cuda") {
  TEST_CASE("cuda AdamW steps match the CPU") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(111);
    for (DType dt : {DType::f32, DType::f64}) {
      INFO(dtype_name(dt));
      const Tensor w0 = randn({37, 5}, dt), b0 = randn({5}, dt);
      std::vector<std::vector<double>> results;
      for (Device dev : {Device::cpu, Device::cuda}) {
        // Fresh copies: on the CPU, to() returns the tensor itself, which the steps would update.
        Tensor w = clone_contiguous(w0.to(dev)).set_requires_grad(true);
        Tensor b = clone_contiguous(b0.to(dev)).set_requires_grad(true);
        nn::AdamWOptions o;
        o.lr = 3e-2;
        nn::AdamW opt({nn::ParamGroup{{{"w", w}}, 0.1}, nn::ParamGroup{{{"b", b}}, 0.0}}, o);
        manual_seed(112);  // the same gradients on both devices
        for (int step = 0; step < 3; ++step) {
          NoGrad no_grad;
          w.set_grad(randn({37, 5}, dt).to(dev));
          b.set_grad(randn({5}, dt).to(dev));
          opt.step();
        }
        results.push_back(w.to_vector());
        results.push_back(b.to_vector());
        results.push_back(opt.state("w").exp_avg_sq.to_vector());
      }
      for (size_t i = 0; i < 3; ++i) expect_close(results[3 + i], results[i], dt == DType::f32 ? 1e-6 : 1e-14);
    }
#endif
  }

  TEST_CASE("cuda gradient norm and clipping match the CPU") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(113);
    const Tensor g1 = randn({1000, 3}), g2 = randn({70001});  // one tensor over the kernel's grid
    std::vector<double> norms;
    std::vector<std::vector<double>> clipped;
    for (Device dev : {Device::cpu, Device::cuda}) {
      Tensor a = zeros({1000, 3}, DType::f32, dev).set_requires_grad(true);
      Tensor b = zeros({70001}, DType::f32, dev).set_requires_grad(true);
      a.set_grad(clone_contiguous(g1.to(dev)));  // clipping scales the gradient in place
      b.set_grad(clone_contiguous(g2.to(dev)));
      norms.push_back(nn::clip_grad_norm({a, b}, 1.0));
      clipped.push_back(a.grad().to_vector());
      clipped.push_back(b.grad().to_vector());
    }
    CHECK(norms[1] == doctest::Approx(norms[0]).epsilon(1e-12));
    expect_close(clipped[2], clipped[0], 1e-7);
    expect_close(clipped[3], clipped[1], 1e-7);
    // The clipped gradients have norm 1 (up to the 1e-6 of the coefficient).
    Tensor a = zeros({1000, 3}, DType::f32, Device::cuda).set_requires_grad(true);
    a.set_grad(g1.to(Device::cuda));
    REQUIRE(nn::grad_norm({a}) > 1.0);
    nn::clip_grad_norm({a}, 1.0);
    CHECK(nn::grad_norm({a}) == doctest::Approx(1.0).epsilon(1e-5));
#endif
  }

  TEST_CASE("cuda Module to device keeps leaves requires_grad and values") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(114);
    nn::Linear layer(6, 4, true);
    const std::vector<double> w = layer.weight.to_vector();
    layer.to(Device::cuda);
    CHECK(layer.device() == Device::cuda);
    for (const auto& [name, p] : layer.named_parameters()) {
      INFO(name);
      CHECK(p.device() == Device::cuda);
      CHECK(p.is_leaf());
      CHECK(p.requires_grad());
    }
    CHECK(layer.weight.to_vector() == w);
    layer.to(Device::cpu);
    CHECK(layer.device() == Device::cpu);
    CHECK(layer.weight.to_vector() == w);
#endif
  }
}
