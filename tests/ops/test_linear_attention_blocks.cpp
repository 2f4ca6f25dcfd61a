// The CUDA linear-attention algorithm (ops/linear_attention/linear_attention_blocks.h) run on
// the CPU, thread by thread (HostPhases), against the CPU kernels (themselves checked
// against the full-matrix reference, a per-token loop and finite differences in
// test_linear_attention.cpp): output, normaliser and every gradient, both normalisers, over
// plans that cut d_v into several slices and T into several chunks. Shared memory and every
// output start as NaN, so a tile or element read before it is written shows up. This runs
// without a GPU; the cuda tests then check the same code on the card.
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "compare.h"
#include "engine/rng.h"
#include "ops/linear_attention/linear_attention.h"
#include "ops/linear_attention/linear_attention_blocks.h"

using namespace hqlt;
using namespace hqlt::detail::linear_blocks;
using hqlt::testing::expect_close;
using Normalizer = LinearAttentionNormalizer;

namespace {

struct Case {
  int64_t B = 2, T = 37, H = 3, dk = 16, dv = 12, chunk = 16;
  int Vs = 0;  // forced slice width (0: the widest that fits the card)
  Normalizer normalizer = Normalizer::reference_heads;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << "B=" << c.B << " T=" << c.T << " H=" << c.H << " d_k=" << c.dk << " d_v=" << c.dv
           << " chunk=" << c.chunk << " Vs=" << c.Vs
           << " normalizer=" << (c.normalizer == Normalizer::time ? "time" : "reference_heads");
}

constexpr size_t kCardSmem = 232448;  // an H100/H200's shared memory per block (opt-in)

// A budget that admits exactly chunk C and slice width Vs (forward or backward tiles), so
// make_plan picks them.
size_t budget_for(const Case& c, bool backward) {
  Plan p;
  p.dk = c.dk, p.dv = c.dv, p.C = int(c.chunk), p.Vs = c.Vs;
  return Tiles<char>::carve(nullptr, p, backward).words * sizeof(double);
}

Plan plan_for(const Case& c, bool backward) {
  const Plan p = make_plan(c.B, c.T, c.H, c.dk, c.dv, c.chunk, c.normalizer == Normalizer::time, 1e-10,
                           sizeof(double), c.Vs ? budget_for(c, backward) : kCardSmem, backward);
  REQUIRE(p.C == c.chunk);
  if (c.Vs) REQUIRE(p.Vs == c.Vs);
  return p;
}

std::vector<double> nans(int64_t n) { return std::vector<double>(size_t(n), std::numeric_limits<double>::quiet_NaN()); }

// Runs every block of `p` one after the other, each on NaN-filled shared memory.
template <typename Block>
void run_blocks(const Plan& p, bool backward, Block&& block) {
  std::vector<double> smem(Tiles<double>::carve(nullptr, p, backward).words);
  for (int64_t b = 0; b < p.blocks(); ++b) {
    std::fill(smem.begin(), smem.end(), std::numeric_limits<double>::quiet_NaN());
    block(smem.data(), b);
  }
}

void check_case(const Case& c) {
  CAPTURE(c);
  using linear_attention_detail::Problem;
  const Problem dims{c.B, c.T, c.H, c.dk, c.dv, c.chunk};
  const int64_t rows = c.B * c.T * c.H;
  const std::vector<double> q = randn({c.B, c.T, c.H, c.dk}, DType::f64).to_vector();
  const std::vector<double> k = randn({c.B, c.T, c.H, c.dk}, DType::f64).to_vector();
  const std::vector<double> v = randn({c.B, c.T, c.H, c.dv}, DType::f64).to_vector();
  const std::vector<double> d_o = randn({c.B, c.T, c.H, c.dv}, DType::f64).to_vector();
  const double eps = 1e-10;

  // The CPU kernels.
  std::vector<double> out_want = nans(rows * c.dv), z_want = nans(rows);
  std::vector<double> dq_want = nans(rows * c.dk), dk_want = nans(rows * c.dk), dv_want = nans(rows * c.dv);
  linear_attention_detail::forward_cpu<double>(q.data(), k.data(), v.data(), out_want.data(), z_want.data(), dims,
                                               c.normalizer, eps);
  linear_attention_detail::backward_cpu<double>(q.data(), k.data(), v.data(), z_want.data(), out_want.data(),
                                                d_o.data(), dq_want.data(), dk_want.data(), dv_want.data(), dims,
                                                c.normalizer, eps);

  // The forward blocks on the host (after heads_z_row for the reference_heads normaliser).
  const Plan pf = plan_for(c, false);
  std::vector<double> out = nans(rows * c.dv), z = nans(rows);
  if (!pf.by_time)
    for (int64_t r = 0; r < rows; ++r) z[size_t(r)] = heads_z_row(pf, r, q.data(), k.data());
  run_blocks(pf, false, [&](double* smem, int64_t b) {
    forward_block(ForwardArgs<double>{q.data(), k.data(), v.data(), out.data(), z.data()}, pf, smem, b,
                  HostPhases{});
  });
  {
    INFO("forward out");
    expect_close(out, out_want, 1e-12);
  }
  {
    INFO("normaliser z");
    expect_close(z, z_want, 1e-12);
  }

  // The backward: dz_row, the blocks, finish_column, from the CPU forward's z and output.
  const Plan p = plan_for(c, true);
  std::vector<double> dz = nans(rows), part_q = nans(p.slices * rows * c.dk), part_k = nans(p.slices * rows * c.dk);
  std::vector<double> dq = nans(rows * c.dk), dk = nans(rows * c.dk), dv = nans(rows * c.dv);
  for (int64_t r = 0; r < rows; ++r) dz[size_t(r)] = dz_row(p, r, out_want.data(), d_o.data(), z_want.data());
  const BackwardArgs<double> a{q.data(),   k.data(),  v.data(),      z_want.data(), dz.data(),
                               d_o.data(), dv.data(), part_q.data(), part_k.data()};
  run_blocks(p, true, [&](double* smem, int64_t b) { backward_block(a, p, smem, b, HostPhases{}); });
  // As the launcher does: with one slice, finish_column works in place in the shares.
  if (p.slices == 1) dq.swap(part_q), dk.swap(part_k);
  const double* pq = p.slices == 1 ? dq.data() : part_q.data();
  const double* pk = p.slices == 1 ? dk.data() : part_k.data();
  for (int64_t bt = 0; bt < c.B * c.T; ++bt)
    for (int64_t j = 0; j < c.dk; ++j)
      finish_column(p, bt, j, q.data(), k.data(), dz.data(), pq, pk, dq.data(), dk.data());
  // With T = 1 under the time normaliser (or under the heads one with one head) the output
  // is v_0 whatever q_0 and k_0 are, so dq and dk vanish up to rounding: they are measured
  // against dv, the loss's natural gradient scale, rather than against their own ~1e-12.
  const bool qk_vanish = c.T == 1 && (c.normalizer == Normalizer::time || c.H == 1);
  {
    INFO("gradient dq");
    expect_close(dq, dq_want, 1e-11, qk_vanish ? dv_want : dq_want);
  }
  {
    INFO("gradient dk");
    expect_close(dk, dk_want, 1e-11, qk_vanish ? dv_want : dk_want);
  }
  {
    INFO("gradient dv");
    expect_close(dv, dv_want, 1e-11);
  }
}

const Normalizer kNormalizers[] = {Normalizer::reference_heads, Normalizer::time};

}  // namespace

TEST_SUITE("reference") {
  TEST_CASE("linear attention GPU blocks on the host match the CPU kernel") {
    manual_seed(111);
    // One slice (V_s = d_v), several chunks with a short last one; one head and three.
    for (Normalizer n : kNormalizers)
      for (int64_t H : {1, 3}) {
        Case c;
        c.H = H, c.normalizer = n;
        check_case(c);
      }
  }

  TEST_CASE("linear attention GPU blocks on the host with d_v cut into slices") {
    manual_seed(112);
    // d_v = 20 in slices of 8, 8 and 4; chunks of 8 over T = 29.
    for (Normalizer n : kNormalizers) {
      Case c;
      c.dv = 20, c.Vs = 8, c.chunk = 8, c.T = 29, c.dk = 10, c.H = 2, c.normalizer = n;
      check_case(c);
    }
  }

  TEST_CASE("linear attention GPU blocks on the host at the edges") {
    manual_seed(113);
    for (Normalizer n : kNormalizers) {
      for (int64_t T : {0, 1, 8, 9}) {
        Case c;
        c.T = T, c.chunk = 8, c.normalizer = n;
        check_case(c);
      }
      Case wide;  // d_k, d_v larger than a chunk, odd sizes (the 2×2 register tiles' edges)
      wide.dk = 33, wide.dv = 27, wide.T = 40, wide.chunk = 32, wide.B = 1, wide.H = 2, wide.normalizer = n;
      check_case(wide);
      Case tiny_chunk;  // chunk_size below 8 runs as asked
      tiny_chunk.chunk = 2, tiny_chunk.T = 7, tiny_chunk.dk = 3, tiny_chunk.dv = 5, tiny_chunk.normalizer = n;
      check_case(tiny_chunk);
      Case no_values;  // d_v = 0: still one slice, so z is written and dq, dk come out zero
      no_values.dv = 0, no_values.T = 9, no_values.chunk = 8, no_values.normalizer = n;
      check_case(no_values);
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("linear attention GPU plan picks the largest chunk and slice that fit") {
    // d = 128 in f32 on an H100/H200, backward: C = 64 with slices of 64 columns (167 KB).
    Plan p = make_plan(8, 4096, 16, 128, 128, 64, true, 1e-10, sizeof(float), kCardSmem, true);
    CHECK(p.C == 64);
    CHECK(p.Vs == 64);
    CHECK(p.slices == 2);
    CHECK(p.chunks == 64);
    CHECK(p.by_time);
    CHECK(Tiles<float>::carve(nullptr, p, true).words * sizeof(float) <= kCardSmem);
    // d = 128 in f64: Φq, Φk, P and G alone take 197 KB of the backward's tiles at C = 64,
    // which leaves room for slices of 8 columns (219 KB; 16 would need 235 KB).
    p = make_plan(8, 100, 16, 128, 128, 64, false, 1e-10, sizeof(double), kCardSmem, true);
    CHECK(p.C == 64);
    CHECK(p.Vs == 8);
    CHECK(p.slices == 16);
    CHECK(p.chunks == 2);
    CHECK_FALSE(p.by_time);
    // chunk_size above 64 runs as 64; below, as asked, down to 1.
    CHECK(make_plan(1, 10, 1, 16, 16, 128, false, 1e-10, sizeof(float), kCardSmem, true).C == 64);
    CHECK(make_plan(1, 10, 1, 16, 16, 4, false, 1e-10, sizeof(float), kCardSmem, true).C == 4);
    // d_v = 0 or below 8 still gets one slice.
    CHECK(make_plan(1, 10, 1, 16, 0, 16, false, 1e-10, sizeof(double), kCardSmem, true).slices == 1);
    p = make_plan(1, 10, 1, 16, 3, 16, false, 1e-10, sizeof(double), kCardSmem, true);
    CHECK(p.slices == 1);
    CHECK(p.Vs == 8);
    // Too large a d_k: nothing fits.
    CHECK(make_plan(1, 10, 1, 4096, 64, 64, false, 1e-10, sizeof(double), kCardSmem, true).C == 0);
  }
}
