// The CUDA delta-rule algorithm (ops/delta_rule/delta_rule_blocks.h) run on the CPU, thread
// by thread (HostPhases), against the CPU kernels (themselves checked against the per-token
// reference and finite differences in test_delta_rule.cpp): forward, final state and every
// gradient, over plans that cut d_v into several slices and T into several chunks. Shared
// memory and every output start as NaN, so a tile or element read before it is written
// shows up. This runs without a GPU; the cuda tests then check the same code on the card.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "compare.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/delta_rule/delta_rule_blocks.h"
#include "ops/elementwise/elementwise.h"
#include "ops/norm/norm.h"

using namespace hqlt;
using namespace hqlt::detail::delta_blocks;
using hqlt::testing::expect_close;

namespace {

struct Case {
  int64_t B = 2, T = 37, H = 3, dk = 16, dv = 12, chunk = 16;
  int Vs = 0;  // forced slice width (0: the widest that fits the default budget)
  bool l2 = false, init = true, grad_o = true, grad_final = true;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << "B=" << c.B << " T=" << c.T << " H=" << c.H << " d_k=" << c.dk << " d_v=" << c.dv
           << " chunk=" << c.chunk << " Vs=" << c.Vs << " l2=" << c.l2 << " init=" << c.init
           << " grad_o=" << c.grad_o << " grad_final=" << c.grad_final;
}

constexpr size_t kCardSmem = 232448;  // an H100/H200's shared memory per block (opt-in)

// A budget that admits exactly chunk C and slice width Vs, so make_plan picks them.
size_t budget_for(const Case& c, size_t word) {
  Plan p;
  p.dk = c.dk, p.dv = c.dv, p.C = int(c.chunk), p.Vs = c.Vs;
  return Tiles<char>::carve(nullptr, p, true).words * word;
}

std::vector<double> nans(int64_t n) { return std::vector<double>(size_t(n), std::numeric_limits<double>::quiet_NaN()); }

std::vector<double> values(const Tensor& t) { return t.defined() ? t.contiguous().to_vector() : std::vector<double>(); }

void check_case(const Case& c) {
  CAPTURE(c);
  NoGrad no_grad;
  const Tensor q = randn({c.B, c.T, c.H, c.dk}, DType::f64);
  const Tensor k_raw = randn({c.B, c.T, c.H, c.dk}, DType::f64, Device::cpu, 0.0, 2.0);
  const Tensor k = c.l2 ? k_raw : l2_normalize(k_raw) * rand({c.B, c.T, c.H, 1}, DType::f64, Device::cpu, 0.3, 1.0);
  const Tensor v = randn({c.B, c.T, c.H, c.dv}, DType::f64);
  const Tensor beta = rand({c.B, c.T, c.H}, DType::f64, Device::cpu, 0.05, 1.95);
  const Tensor s0 = c.init ? randn({c.B, c.H, c.dk, c.dv}, DType::f64, Device::cpu, 0.0, 0.5) : Tensor();
  const Tensor d_o = c.grad_o ? randn({c.B, c.T, c.H, c.dv}, DType::f64) : Tensor();
  const Tensor d_fin = c.grad_final ? randn({c.B, c.H, c.dk, c.dv}, DType::f64) : Tensor();

  // The CPU kernels.
  Tensor o_want = empty({c.B, c.T, c.H, c.dv}, DType::f64), fin_want = empty({c.B, c.H, c.dk, c.dv}, DType::f64);
  detail::delta_rule_forward_cpu(q, k, v, beta, s0, c.chunk, c.l2, o_want, fin_want);
  const detail::DeltaRuleGrads want = detail::delta_rule_backward_cpu(q, k, v, beta, s0, d_o, d_fin, c.chunk, c.l2);

  // The blocks, on the host.
  const Plan p = make_plan(c.B, c.T, c.H, c.dk, c.dv, c.chunk, c.l2, sizeof(double),
                           c.Vs ? budget_for(c, sizeof(double)) : kCardSmem, true);
  REQUIRE(p.C == c.chunk);
  if (c.Vs) REQUIRE(p.Vs == c.Vs);
  const std::vector<double> qv = values(q), kv = values(k), vv = values(v), bv = values(beta), s0v = values(s0);
  const std::vector<double> dov = values(d_o), dfv = values(d_fin);
  const int64_t state = c.B * c.H * c.dk * c.dv;
  std::vector<double> o = nans(c.B * c.T * c.H * c.dv), fin = nans(state);
  std::vector<double> smem(Tiles<double>::carve(nullptr, p, true).words);
  const auto run_blocks = [&](auto&& block) {
    for (int64_t b = 0; b < p.blocks(); ++b) {
      std::fill(smem.begin(), smem.end(), std::numeric_limits<double>::quiet_NaN());
      block(b);
    }
  };
  const double* s0p = c.init ? s0v.data() : nullptr;
  run_blocks([&](int64_t b) {
    forward_block(ForwardArgs<double>{qv.data(), kv.data(), vv.data(), bv.data(), s0p, o.data(), fin.data(), nullptr},
                  p, smem.data(), b, HostPhases{});
  });
  {
    INFO("forward o");
    expect_close(o, values(o_want), 1e-12);
  }
  {
    INFO("final state");
    expect_close(fin, values(fin_want), 1e-12);
  }

  std::vector<double> states = nans(c.B * c.H * p.chunks * c.dk * c.dv);
  std::vector<double> part_q = nans(p.slices * p.rows() * c.dk), part_k = nans(p.slices * p.rows() * c.dk);
  std::vector<double> part_beta = nans(p.slices * p.rows());
  std::vector<double> dq = nans(c.B * c.T * c.H * c.dk), dk = nans(c.B * c.T * c.H * c.dk);
  std::vector<double> dv = nans(c.B * c.T * c.H * c.dv), dbeta = nans(c.B * c.T * c.H), ds0 = nans(state);
  run_blocks([&](int64_t b) {
    forward_block(ForwardArgs<double>{qv.data(), kv.data(), vv.data(), bv.data(), s0p, nullptr, nullptr,
                                      states.data()},
                  p, smem.data(), b, HostPhases{});
  });
  const BackwardArgs<double> a{qv.data(),   kv.data(),
                               vv.data(),   bv.data(),
                               states.data(), c.grad_o ? dov.data() : nullptr,
                               c.grad_final ? dfv.data() : nullptr, dv.data(),
                               ds0.data(),  part_q.data(),
                               part_k.data(), part_beta.data()};
  run_blocks([&](int64_t b) { backward_block(a, p, smem.data(), b, HostPhases{}); });
  for (int64_t r = 0; r < p.rows(); ++r)
    finish_row(p, r, qv.data(), kv.data(), part_q.data(), part_k.data(), part_beta.data(), dq.data(), dk.data(),
               dbeta.data());

  const std::pair<const char*, std::pair<const std::vector<double>*, Tensor>> grads[] = {
      {"dq", {&dq, want.dq}}, {"dk", {&dk, want.dk}}, {"dv", {&dv, want.dv}},
      {"dbeta", {&dbeta, want.dbeta}}, {"dinitial_state", {&ds0, want.dinitial_state}}};
  for (const auto& [name, pair] : grads) {
    const auto name_value = name;  // a copy: clang 14 cannot capture a structured binding
    INFO("gradient " << name_value);
    expect_close(*pair.first, values(pair.second), 1e-11);
  }
}

}  // namespace

TEST_SUITE("reference") {
  TEST_CASE("delta rule GPU blocks on the host match the CPU kernel") {
    manual_seed(91);
    // One slice (V_s = d_v), several chunks with a short last one; every option.
    for (int mix = 0; mix < 8; ++mix) {
      Case c;
      c.l2 = mix & 1, c.init = mix & 2, c.grad_final = mix & 4;
      check_case(c);
    }
    // Gradient from the final state only.
    Case fin_only;
    fin_only.grad_o = false;
    check_case(fin_only);
  }

  TEST_CASE("delta rule GPU blocks on the host with d_v cut into slices") {
    manual_seed(92);
    // d_v = 20 in slices of 8, 8 and 4; chunks of 8 over T = 29.
    for (int mix = 0; mix < 4; ++mix) {
      Case c;
      c.dv = 20, c.Vs = 8, c.chunk = 8, c.T = 29, c.dk = 10, c.H = 2;
      c.l2 = mix & 1, c.init = mix & 2;
      check_case(c);
    }
  }

  TEST_CASE("delta rule GPU blocks on the host at the edges") {
    manual_seed(93);
    for (int64_t T : {0, 1, 8, 9}) {
      Case c;
      c.T = T, c.chunk = 8, c.l2 = true;
      check_case(c);
    }
    Case wide;  // d_k, d_v larger than a chunk, odd sizes (the 2×2 register tiles' edges)
    wide.dk = 33, wide.dv = 27, wide.T = 40, wide.chunk = 32, wide.B = 1, wide.H = 1, wide.l2 = true;
    check_case(wide);
  }
}

TEST_SUITE("unit") {
  TEST_CASE("delta rule GPU plan picks the largest chunk and slice that fit") {
    // d = 128 in f32 on an H100/H200, backward: C = 64 with slices of 32 columns (225 KB).
    Plan p = make_plan(8, 4096, 16, 128, 128, 64, true, sizeof(float), kCardSmem, true);
    CHECK(p.C == 64);
    CHECK(p.Vs == 32);
    CHECK(p.slices == 4);
    CHECK(p.chunks == 64);
    CHECK(Tiles<float>::carve(nullptr, p, true).words * sizeof(float) <= kCardSmem);
    // d = 64: the forward takes all 64 columns in one slice; the backward's ten [64, 65]
    // tiles leave room for 32 (64 would need 233 KB).
    p = make_plan(8, 100, 16, 64, 64, 64, false, sizeof(float), kCardSmem, false);
    CHECK(p.C == 64);
    CHECK(p.Vs == 64);
    CHECK(p.slices == 1);
    CHECK(p.chunks == 2);
    p = make_plan(8, 100, 16, 64, 64, 64, false, sizeof(float), kCardSmem, true);
    CHECK(p.C == 64);
    CHECK(p.Vs == 32);
    CHECK(p.slices == 2);
    // chunk_size above 64 runs as 64; below, as asked.
    CHECK(make_plan(1, 10, 1, 16, 16, 128, false, sizeof(float), kCardSmem, true).C == 64);
    CHECK(make_plan(1, 10, 1, 16, 16, 16, false, sizeof(float), kCardSmem, true).C == 16);
    // A d_v smaller than 8 still gets one slice.
    p = make_plan(1, 10, 1, 16, 3, 16, false, sizeof(double), kCardSmem, true);
    CHECK(p.slices == 1);
    CHECK(p.Vs == 8);
    // Too large a d_k: nothing fits.
    CHECK(make_plan(1, 10, 1, 4096, 64, 64, false, sizeof(double), kCardSmem, true).C == 0);
  }
}
