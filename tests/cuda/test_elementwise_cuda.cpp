// Elementwise ops on the GPU against the CPU kernels, every line of tests/ops/
// elementwise_cases.h: forward and backward, f32 and f64, broadcasting and strided inputs.
#include <doctest/doctest.h>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/elementwise_cases.h"

using namespace hqlt;
using hqlt::testing::kBinaryCases;
using hqlt::testing::kUnaryCases;
using hqlt::testing::run_on_both;
using hqlt::testing::tol_for;

TEST_SUITE("cuda") {
  TEST_CASE("cuda unary elementwise ops match the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(11);
    for (DType dt : {DType::f32, DType::f64}) {
      for (const testing::UnaryCase& c : kUnaryCases) {
        INFO(c.op << " " << dtype_name(dt));
        Tensor x = rand({3, 5, 7}, dt, Device::cpu, c.lo, c.hi);
        run_on_both([&](const std::vector<Tensor>& in) { return c.f(in[0]); }, {x}, tol_for(dt));
        // A strided input (a transposed view) through the same op.
        run_on_both([&](const std::vector<Tensor>& in) { return c.f(in[0].transpose(0, 2)); }, {x}, tol_for(dt));
      }
    }
  }

  TEST_CASE("cuda binary elementwise ops match the CPU with broadcasting") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(12);
    const std::pair<Shape, Shape> shapes[] = {
        {{4, 6}, {4, 6}},           // same shape
        {{4, 1, 6}, {3, 1}},        // both broadcast, b has fewer dims
        {{2, 3, 4}, {4}},           // row vector
        {{5}, {2, 3, 5}},           // a broadcast over leading dims
        {{1}, {1}},                 // single element
        {{0, 3}, {3}},              // empty
    };
    for (DType dt : {DType::f32, DType::f64}) {
      for (const testing::BinaryCase& c : kBinaryCases) {
        for (const auto& [sa, sb] : shapes) {
          if (!c.broadcasts && sa != sb) continue;
          const std::string shapes_text = shape_str(sa) + " " + shape_str(sb);  // clang 14: no binding in INFO's lambda
          INFO(c.op << " " << dtype_name(dt) << " " << shapes_text);
          Tensor a = rand(sa, dt, Device::cpu, -2, 2);
          Tensor b = rand(sb, dt, Device::cpu, c.b_lo, c.b_hi);
          run_on_both([&](const std::vector<Tensor>& in) { return c.f(in[0], in[1]); }, {a, b}, tol_for(dt));
        }
      }
    }
  }

  TEST_CASE("cuda elementwise ops on a reused input and a long tensor match the CPU") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(13);
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor g = randn({6, 9}, dt);
      // x used twice: its gradient is accumulated on the GPU.
      run_on_both([](const std::vector<Tensor>& in) { return mul(in[0], sigmoid(in[0])) + in[0]; }, {g},
                  tol_for(dt));
      // More elements than one grid covers (4096 × 256, engine/cuda/strided.h), with a ragged
      // tail, so the grid-stride loop runs twice and stops short.
      Tensor big = randn({(int64_t(1) << 21) + 3}, dt);
      run_on_both([](const std::vector<Tensor>& in) { return silu(in[0]); }, {big}, tol_for(dt));
    }
  }
}
