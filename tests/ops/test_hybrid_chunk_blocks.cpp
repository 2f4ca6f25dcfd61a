// The CUDA algorithm of the Delayed-Chunk hybrid op (ops/hybrid_chunk/hybrid_chunk_blocks.h)
// run on the CPU, thread by thread (HostPhases), against the CPU kernels (themselves checked
// against the reference and finite differences in test_hybrid_chunk.cpp): both outputs,
// LSE, the final state and every gradient, over plans that cut d_v into slices and FW blocks
// into several kernel chunks. Shared memory and every output start as NaN, so a tile or
// element read before it is written shows up. This runs without a GPU; the cuda tests then
// check the same code on the card.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "compare.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/hybrid_chunk/hybrid_chunk_blocks.h"
#include "ops/norm/norm.h"

using namespace hqlt;
using namespace hqlt::detail::hybrid_blocks;
using hqlt::testing::expect_close;
namespace hc = hqlt::hybrid_chunk_detail;

namespace {

struct Case {
  int64_t B = 2, T = 37, H = 3, dk = 16, dv = 12, chunk = 16, fw_block = 16;
  int C = 0, Vs = 0;  // forced kernel chunk and slice width (0: what fits the card)
  bool l2 = false, init = true, grad_fw = true, grad_kv = true, grad_final = true;
  double scale = 0;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << "B=" << c.B << " T=" << c.T << " H=" << c.H << " d_k=" << c.dk << " d_v=" << c.dv
           << " chunk=" << c.chunk << " fw_block=" << c.fw_block << " C=" << c.C << " Vs=" << c.Vs
           << " l2=" << c.l2 << " init=" << c.init << " grad_fw=" << c.grad_fw << " grad_kv=" << c.grad_kv
           << " grad_final=" << c.grad_final << " scale=" << c.scale;
}

constexpr size_t kCardSmem = 232448;  // an H100/H200's shared memory per block (opt-in)

// A budget that admits exactly kernel chunk C and slice width Vs for the backward.
size_t budget_for(const Case& c, size_t word) {
  FwPlan f;
  f.fw_block = int(c.fw_block);
  f.p.dk = c.dk, f.p.dv = c.dv, f.p.C = c.C, f.p.Vs = c.Vs;
  return FwTiles<char>::carve(nullptr, f, true).words * word;
}

std::vector<double> nans(int64_t n) { return std::vector<double>(size_t(n), std::numeric_limits<double>::quiet_NaN()); }

std::vector<double> values(const Tensor& t) { return t.defined() ? t.contiguous().to_vector() : std::vector<double>(); }

// Runs `block(b)` for every block of a grid, each on freshly poisoned shared memory.
template <typename F>
void run_grid(int64_t blocks, size_t words, F&& block) {
  std::vector<double> smem(words);
  for (int64_t b = 0; b < blocks; ++b) {
    std::fill(smem.begin(), smem.end(), std::numeric_limits<double>::quiet_NaN());
    block(smem.data(), b);
  }
}

void check_case(const Case& c) {
  CAPTURE(c);
  NoGrad no_grad;
  const Shape qk{c.B, c.T, c.H, c.dk}, vs{c.B, c.T, c.H, c.dv}, st{c.B, c.H, c.dk, c.dv};
  hc::Inputs in;
  in.q_fw = silu(randn(qk, DType::f64, Device::cpu, 0.0, 2.0));
  const Tensor k = silu(randn(qk, DType::f64, Device::cpu, 0.0, 2.0));
  in.k_fw = c.l2 ? k : l2_normalize(k) * rand({c.B, c.T, c.H, 1}, DType::f64, Device::cpu, 0.3, 1.0);
  in.q_kv = randn(qk, DType::f64), in.k_kv = randn(qk, DType::f64), in.v = randn(vs, DType::f64);
  in.beta = rand({c.B, c.T, c.H}, DType::f64, Device::cpu, 0.05, 1.95);
  if (c.init) in.initial_state = randn(st, DType::f64, Device::cpu, 0.0, 0.5);
  const Tensor d_fw = c.grad_fw ? randn(vs, DType::f64) : Tensor();
  const Tensor d_kv = c.grad_kv ? randn(vs, DType::f64) : Tensor();
  const Tensor d_fin = c.grad_final ? randn(st, DType::f64) : Tensor();

  // The CPU kernels.
  hc::Problem prob;
  prob.batch = c.B, prob.time = c.T, prob.heads = c.H, prob.dk = c.dk, prob.dv = c.dv;
  prob.kv_chunk = c.chunk, prob.fw_block = c.fw_block, prob.l2 = c.l2;
  prob.scale = c.scale == 0 ? 1.0 / std::sqrt(double(c.dk)) : c.scale;
  const Tensor o_fw_want = empty(vs, DType::f64), o_kv_want = empty(vs, DType::f64), fin_want = empty(st, DType::f64);
  const Tensor lse_want = empty({c.B, c.H, c.T}, DType::f64);
  hc::forward_cpu(prob, in, o_fw_want, o_kv_want, fin_want, lse_want);
  const hc::Grads want = hc::backward_cpu(prob, in, lse_want, d_fw, d_kv, d_fin);

  // The plans: forced, or what fits the card.
  const size_t budget = c.C ? budget_for(c, sizeof(double)) : kCardSmem;
  const FwPlan ff = make_fw_plan(c.B, c.T, c.H, c.dk, c.dv, c.fw_block, c.l2, prob.scale, sizeof(double), budget, false);
  const FwPlan fb = make_fw_plan(c.B, c.T, c.H, c.dk, c.dv, c.fw_block, c.l2, prob.scale, sizeof(double), budget, true);
  REQUIRE(fb.p.C > 0);
  if (c.C) {
    REQUIRE(fb.p.C == c.C);
    REQUIRE(fb.p.Vs == c.Vs);
  }
  const KvPlan kf = make_kv_plan(c.B, c.T, c.H, c.dk, c.dv, c.chunk, prob.scale, sizeof(double), kCardSmem, false);
  const KvPlan kb = make_kv_plan(c.B, c.T, c.H, c.dk, c.dv, c.chunk, prob.scale, sizeof(double), kCardSmem, true);
  REQUIRE(kb.C == c.chunk);

  const std::vector<double> qf = values(in.q_fw), kf_ = values(in.k_fw), qkv = values(in.q_kv), kkv = values(in.k_kv);
  const std::vector<double> vv = values(in.v), bv = values(in.beta), s0v = values(in.initial_state);
  const std::vector<double> dfw = values(d_fw), dkv = values(d_kv), dfin = values(d_fin);
  const double* s0 = c.init ? s0v.data() : nullptr;
  const int64_t rows = c.B * c.T * c.H, state = c.B * c.H * c.dk * c.dv;

  // Forward.
  std::vector<double> o_fw = nans(rows * c.dv), o_kv = nans(rows * c.dv), fin = nans(state), lse = nans(rows);
  run_grid(ff.p.blocks(), FwTiles<double>::carve(nullptr, ff, false).words, [&](double* smem, int64_t b) {
    fw_forward_block(FwForwardArgs<double>{qf.data(), kf_.data(), vv.data(), bv.data(), s0, o_fw.data(), fin.data(),
                                           nullptr},
                     ff, smem, b, HostPhases{});
  });
  run_grid(kf.blocks(), KvTiles<double>::carve(nullptr, kf, false).words, [&](double* smem, int64_t b) {
    kv_forward_block(KvForwardArgs<double>{qkv.data(), kkv.data(), vv.data(), o_kv.data(), lse.data()}, kf, smem, b,
                     HostPhases{});
  });
  const std::pair<const char*, std::pair<const std::vector<double>*, Tensor>> outs[] = {
      {"o_fw", {&o_fw, o_fw_want}}, {"o_kv", {&o_kv, o_kv_want}}, {"final state", {&fin, fin_want}},
      {"lse", {&lse, lse_want}}};
  for (const auto& [name, pair] : outs) {
    const auto name_value = name;  // a copy: clang 14 cannot capture a structured binding
    INFO("forward " << std::string(name_value));
    expect_close(*pair.first, values(pair.second), 1e-12);
  }

  // Backward: the FW recompute keeps the states; the KV pass writes dv, the FW pass adds.
  const db::Plan& p = fb.p;
  std::vector<double> states = nans(c.B * c.H * p.chunks * c.dk * c.dv);
  std::vector<double> part_q = nans(p.slices * rows * c.dk), part_k = nans(p.slices * rows * c.dk);
  std::vector<double> part_beta = nans(p.slices * rows);
  std::vector<double> dq_fw = nans(rows * c.dk), dk_fw = nans(rows * c.dk), dq_kv = nans(rows * c.dk);
  std::vector<double> dk_kv = nans(rows * c.dk), dv = nans(rows * c.dv), dbeta = nans(rows), ds0 = nans(state);
  const size_t fw_words = FwTiles<double>::carve(nullptr, fb, true).words;
  run_grid(p.blocks(), fw_words, [&](double* smem, int64_t b) {
    fw_forward_block(FwForwardArgs<double>{qf.data(), kf_.data(), vv.data(), bv.data(), s0, nullptr, nullptr,
                                           states.data()},
                     fb, smem, b, HostPhases{});
  });
  run_grid(kb.blocks(), KvTiles<double>::carve(nullptr, kb, true).words, [&](double* smem, int64_t b) {
    kv_backward_block(KvBackwardArgs<double>{qkv.data(), kkv.data(), vv.data(), lse.data(),
                                             c.grad_kv ? dkv.data() : nullptr, dq_kv.data(), dk_kv.data(), dv.data()},
                      kb, smem, b, HostPhases{});
  });
  const FwBackwardArgs<double> a{qf.data(),        kf_.data(),     vv.data(),
                                 bv.data(),        states.data(),  c.grad_fw ? dfw.data() : nullptr,
                                 c.grad_final ? dfin.data() : nullptr, dv.data(), ds0.data(),
                                 part_q.data(),    part_k.data(),  part_beta.data()};
  run_grid(p.blocks(), fw_words, [&](double* smem, int64_t b) { fw_backward_block(a, fb, smem, b, HostPhases{}); });
  for (int64_t r = 0; r < p.rows(); ++r)
    db::finish_row(p, r, qf.data(), kf_.data(), part_q.data(), part_k.data(), part_beta.data(), dq_fw.data(),
                   dk_fw.data(), dbeta.data());

  const std::pair<const char*, std::pair<const std::vector<double>*, Tensor>> grads[] = {
      {"dq_fw", {&dq_fw, want.q_fw}}, {"dk_fw", {&dk_fw, want.k_fw}}, {"dq_kv", {&dq_kv, want.q_kv}},
      {"dk_kv", {&dk_kv, want.k_kv}}, {"dv", {&dv, want.v}},          {"dbeta", {&dbeta, want.beta}},
      {"dinitial_state", {&ds0, want.initial_state}}};
  for (const auto& [name, pair] : grads) {
    const auto name_value = name;  // a copy: clang 14 cannot capture a structured binding
    INFO("gradient " << std::string(name_value));
    expect_close(*pair.first, values(pair.second), 1e-11);
  }
}

}  // namespace

TEST_SUITE("reference") {
  TEST_CASE("hybrid chunk GPU blocks on the host match the CPU kernel") {
    manual_seed(111);
    // One slice, FW block = kernel chunk = attention chunk, a short last chunk; every option.
    for (int mix = 0; mix < 8; ++mix) {
      Case c;
      c.l2 = mix & 1, c.init = mix & 2, c.grad_final = mix & 4, c.grad_kv = mix != 5;
      check_case(c);
    }
    Case fw_only;  // gradient from o_fw alone
    fw_only.grad_kv = fw_only.grad_final = false;
    check_case(fw_only);
    Case none;  // no gradient at all: zeros, except what d_final carries
    none.grad_fw = none.grad_kv = false, none.l2 = true;
    check_case(none);
    Case scaled;
    scaled.scale = 0.7, scaled.l2 = true;
    check_case(scaled);
  }

  TEST_CASE("hybrid chunk GPU blocks on the host with FW blocks split and d_v in slices") {
    manual_seed(112);
    // FW blocks of 32 run as kernel chunks of 8 (S_F and the read's gradient in their own
    // tiles); d_v = 20 in slices of 8, 8, 4; T = 45 ends inside a FW block and a chunk.
    for (int mix = 0; mix < 4; ++mix) {
      Case c;
      c.T = 45, c.H = 2, c.dk = 10, c.dv = 20, c.chunk = 16, c.fw_block = 32, c.C = 8, c.Vs = 8;
      c.l2 = mix & 1, c.init = mix & 2;
      check_case(c);
    }
    Case big;  // fw_block 128 runs as 64 on the card; attention chunks of 8
    big.T = 150, big.B = 1, big.H = 2, big.chunk = 8, big.fw_block = 128, big.l2 = true;
    check_case(big);
    Case quirk;  // the reference's FW block of 64 under an attention chunk of 16
    quirk.T = 100, quirk.B = 1, quirk.chunk = 16, quirk.fw_block = 64, quirk.l2 = true;
    check_case(quirk);
  }

  TEST_CASE("hybrid chunk GPU blocks on the host at the edges") {
    manual_seed(113);
    for (int64_t T : {0, 1, 8, 9}) {
      Case c;
      c.T = T, c.chunk = 8, c.fw_block = 8, c.l2 = true;
      check_case(c);
    }
    Case wide;  // d_k, d_v larger than a chunk, odd sizes (the 2×2 register tiles' edges)
    wide.dk = 33, wide.dv = 27, wide.T = 70, wide.chunk = 32, wide.fw_block = 32, wide.B = 1, wide.H = 1;
    wide.l2 = true;
    check_case(wide);
  }
}

TEST_SUITE("unit") {
  TEST_CASE("hybrid chunk GPU plans") {
    // d = 128 in f32, backward: kernel chunk 64, slices of 32 columns, as the delta rule's
    // (its P and dP tiles are not needed; no split tiles).
    FwPlan f = make_fw_plan(8, 4096, 16, 128, 128, 64, true, 0.1, sizeof(float), kCardSmem, true);
    CHECK(f.p.C == 64);
    CHECK(f.p.Vs == 32);
    CHECK(!f.split());
    CHECK(f.p.scale == 0.1);
    CHECK(FwTiles<float>::carve(nullptr, f, true).words * sizeof(float) <= kCardSmem);
    // A FW block of 128 runs as chunks of 64 with the split tiles.
    f = make_fw_plan(1, 300, 1, 64, 64, 128, true, 0.1, sizeof(float), kCardSmem, true);
    CHECK(f.p.C == 64);
    CHECK(f.split());
    CHECK(f.p.chunks == 5);
    CHECK(FwTiles<float>::carve(nullptr, f, true).words > FwTiles<float>::carve(nullptr, f, false).words);
    // Too large a d_k: nothing fits.
    CHECK(make_fw_plan(1, 10, 1, 4096, 64, 64, false, 1, sizeof(double), kCardSmem, true).p.C == 0);
    // The attention chunk is taken as given, or refused when its tiles do not fit.
    KvPlan k = make_kv_plan(2, 100, 3, 128, 128, 64, 0.1, sizeof(float), kCardSmem, true);
    CHECK(k.C == 64);
    CHECK(k.chunks == 2);
    CHECK(k.blocks() == 12);
    CHECK(make_kv_plan(1, 10, 1, 128, 128, 128, 0.1, sizeof(double), kCardSmem, true).C == 0);
  }
}
