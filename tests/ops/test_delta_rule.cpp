// The chunked delta rule against its per-token reference (forward, final state and every
// input gradient, f64 and f32) on every device (the CPU kernel and, where present, the GPU
// kernel: the same cases, the same bounds), a finite-difference gradcheck of the chunked
// op, values against a plain loop written here, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "chunked_grid.h"
#include "compare.h"
#include "devices.h"
#include "engine/parallel.h"
#include "gradcheck.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/elementwise/elementwise.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/concat.h"
#include "ops/shape/views.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// Which outputs the test loss reads: gradient from o only, from final_state only, or both.
enum class GradFrom { both, output, final_state };
const char* grad_from_name(GradFrom f) {
  return f == GradFrom::both ? "both" : f == GradFrom::output ? "o only" : "final_state only";
}

struct Case {
  int64_t B = 2, T = 7, H = 3, dk = 5, dv = 4, chunk = 8;
  bool l2 = false, init = true, strided = false;
  double beta_lo = 0.05, beta_hi = 1.95;
  GradFrom from = GradFrom::both;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << "B=" << c.B << " T=" << c.T << " H=" << c.H << " d_k=" << c.dk << " d_v=" << c.dv
           << " chunk=" << c.chunk << " l2=" << c.l2 << " init=" << c.init << " strided=" << c.strided << " beta in ["
           << c.beta_lo << ", " << c.beta_hi << ") grad from " << grad_from_name(c.from);
}

struct Inputs {
  Tensor q, k, v, beta, s0;  // f64, fresh random values
};

// Keys without in-op ℓ2 get norms in [0.3, 1], so that |1 − β‖k‖²| < 1 for β < 2 and the
// recurrence stays bounded over long sequences; with ℓ2 the raw keys are deliberately large.
Inputs draw(const Case& c) {
  NoGrad no_grad;
  Inputs in;
  in.q = randn({c.B, c.T, c.H, c.dk}, DType::f64);
  Tensor k = randn({c.B, c.T, c.H, c.dk}, DType::f64, Device::cpu, 0.0, 2.0);
  in.k = c.l2 ? k : l2_normalize(k) * rand({c.B, c.T, c.H, 1}, DType::f64, Device::cpu, 0.3, 1.0);
  in.v = randn({c.B, c.T, c.H, c.dv}, DType::f64);
  in.beta = rand({c.B, c.T, c.H}, DType::f64, Device::cpu, c.beta_lo, c.beta_hi);
  if (c.init) in.s0 = randn({c.B, c.H, c.dk, c.dv}, DType::f64, Device::cpu, 0.0, 0.5);
  return in;
}

using DeltaRuleFn = DeltaRuleOutput (*)(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                        int64_t, bool);

struct Result {
  Tensor o, final_state;
  Ts grads;  // q, k, v, beta, initial_state (zeros where no gradient arrived)
};

// Runs `fn` on dtype-dt copies of the inputs on `device` and back-propagates
// loss = Σ o ⊙ w_o + Σ final_state ⊙ w_s (the terms `from` selects).
Result run(DeltaRuleFn fn, const Case& c, const Inputs& in, DType dt, const Tensor& w_o, const Tensor& w_s,
           Device device = Device::cpu) {
  Ts x{leaf_copy(in.q, dt, c.strided, device), leaf_copy(in.k, dt, false, device),
       leaf_copy(in.v, dt, c.strided, device), leaf_copy(in.beta, dt, false, device),
       leaf_copy(in.s0, dt, false, device)};
  DeltaRuleOutput out = fn(x[0], x[1], x[2], x[3], x[4], c.chunk, c.l2);
  Tensor loss;
  if (c.from != GradFrom::final_state) loss = sum(out.o * to_dtype(w_o, dt).to(device));
  if (c.from != GradFrom::output) {
    Tensor term = sum(out.final_state * to_dtype(w_s, dt).to(device));
    loss = loss.defined() ? loss + term : term;
  }
  if (loss.requires_grad()) loss.backward();
  Result r{out.o.detach(), out.final_state.detach(), {}};
  for (const Tensor& t : x) {
    if (!t.defined()) continue;
    r.grads.push_back(t.grad().defined() ? to_dtype(t.grad(), DType::f64) : zeros(t.shape(), DType::f64));
  }
  return r;
}

// The fused op in dt on `device` against the reference in f64 on the CPU, forward and every
// gradient. In f32 each
// result's bound comes from the reference's own f32 error on the same inputs
// (f32_tolerance in compare.h): the fused op must be about as accurate as the plain
// composition, however well or badly conditioned this draw is.
void check_against_reference(const Case& c, DType dt, Device device) {
  CAPTURE(c);
  const std::string dtype = dtype_name(dt);
  CAPTURE(dtype);
  const Inputs in = draw(c);
  const Tensor w_o = randn({c.B, c.T, c.H, c.dv}, DType::f64), w_s = randn({c.B, c.H, c.dk, c.dv}, DType::f64);
  const Result fused = run(delta_rule, c, in, dt, w_o, w_s, device);
  const Result ref = run(delta_rule_reference, c, in, DType::f64, w_o, w_s);
  const Result ref32 = dt == DType::f32 ? run(delta_rule_reference, c, in, DType::f32, w_o, w_s) : Result{};
  CHECK(fused.o.dtype() == dt);
  CHECK(fused.o.device() == device);
  {
    INFO("o");
    expect_close(fused.o, ref.o, reference_tolerance(dt, ref32.o, ref.o));
  }
  {
    INFO("final_state");
    expect_close(fused.final_state, ref.final_state, reference_tolerance(dt, ref32.final_state, ref.final_state));
  }
  const char* names[] = {"dq", "dk", "dv", "dbeta", "dinitial_state"};
  REQUIRE(fused.grads.size() == ref.grads.size());
  for (size_t i = 0; i < ref.grads.size(); ++i) {
    INFO(std::string(names[i]));
    expect_close(fused.grads[i], ref.grads[i],
                 reference_tolerance(dt, dt == DType::f32 ? ref32.grads[i] : Tensor(), ref.grads[i]));
  }
}

// The grid (T ∈ {1, 7, C, C+1, 300}, C ∈ {8, 16, 64}, H ∈ {1, 3}, d_k ≠ d_v). The
// default run gives each size one mix of the options, cycling through them; the slow run
// gives every size every mix. d_k = 16: with much smaller d_k a chunk of 64 keys contracts
// the state so strongly that the f32 gradient of the initial state, read only through the
// final state, loses relative accuracy (NOTES.md, "Accuracy in f32").
void run_grid(DType dt, bool all_options, Device device) {
  int index = 0;
  for_each_chunked_length([&](int64_t chunk, int64_t T) {
    for (int64_t H : {1, 3}) {
      const int options = all_options ? 24 : 1;
      for (int o = 0; o < options; ++o, ++index) {
        const int mix = all_options ? o : index;
        Case c;
        c.B = 2, c.T = T, c.H = H, c.dk = 16, c.dv = 12, c.chunk = chunk;
        c.l2 = mix % 2;
        c.init = (mix / 2) % 2;
        c.from = GradFrom((mix / 4) % 3);
        c.strided = index % 5 == 0;
        if ((mix / 12) % 2) c.beta_lo = 1.9, c.beta_hi = 1.999;  // near 2, else the full (0, 2)
        check_against_reference(c, dt, device);
      }
    }
  });
}

// The delta rule of docs/math/kernels.md §1.1 as a loop over plain numbers, for one (b, h).
struct PlainResult {
  std::vector<double> o, final_state;
};
PlainResult plain_delta_rule(const Inputs& in, const Case& c) {
  auto at = [](const Tensor& t) { return t.to_vector(); };
  const std::vector<double> q = at(in.q), k = at(in.k), v = at(in.v), beta = at(in.beta);
  const std::vector<double> s0 = c.init ? at(in.s0) : std::vector<double>(size_t(c.B * c.H * c.dk * c.dv), 0.0);
  const double s = 1 / std::sqrt(double(c.dk));
  PlainResult r{std::vector<double>(size_t(c.B * c.T * c.H * c.dv)), s0};
  auto normalised = [&](const std::vector<double>& x, size_t at) { return plain_row(x, at, c.dk, c.l2); };
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      double* S = r.final_state.data() + (b * c.H + h) * c.dk * c.dv;
      for (int64_t t = 0; t < c.T; ++t) {
        const size_t row = size_t((b * c.T + t) * c.H + h);
        const std::vector<double> qt = normalised(q, row * size_t(c.dk)), kt = normalised(k, row * size_t(c.dk));
        for (int64_t j = 0; j < c.dv; ++j) {
          double retrieved = 0;
          for (int64_t i = 0; i < c.dk; ++i) retrieved += S[i * c.dv + j] * kt[size_t(i)];
          const double delta = beta[row] * (v[row * size_t(c.dv) + size_t(j)] - retrieved);
          for (int64_t i = 0; i < c.dk; ++i) S[i * c.dv + j] += kt[size_t(i)] * delta;
          double read = 0;
          for (int64_t i = 0; i < c.dk; ++i) read += S[i * c.dv + j] * qt[size_t(i)];
          r.o[row * size_t(c.dv) + size_t(j)] = s * read;
        }
      }
    }
  return r;
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck delta_rule") {
    // Both outputs in one tensor (the harness weights every element differently).
    auto op = [](int64_t chunk, bool l2) {
      return [chunk, l2](const Ts& x) {
        DeltaRuleOutput r = delta_rule(x[0], x[1], x[2], x[3], x.size() > 4 ? x[4] : Tensor(), chunk, l2);
        return concat({r.o.reshape({-1}), r.final_state.reshape({-1})}, 0);
      };
    };
    auto keys = [](const Shape& shape) {  // norms in [0.3, 1] (see draw())
      NoGrad no_grad;
      Tensor k = l2_normalize(randn(shape, DType::f64)) * rand({shape[0], shape[1], shape[2], 1}, DType::f64,
                                                               Device::cpu, 0.3, 1.0);
      k = k.detach();
      k.set_requires_grad(true);
      return k;
    };
    SUBCASE("partial last chunk, strided q, initial state") {
      HQLT_CHECK_GRADIENTS(op(8, false), (Ts{leaf_transposed({1, 11, 2, 3}), keys({1, 11, 2, 3}), leaf({1, 11, 2, 4}),
                                             leaf_uniform({1, 11, 2}, 0.05, 1.95), leaf({1, 2, 3, 4}, 0.5)}));
    }
    SUBCASE("l2norm_qk, two chunks exactly, no initial state") {
      HQLT_CHECK_GRADIENTS(op(8, true), (Ts{leaf({2, 16, 1, 4}), leaf({2, 16, 1, 4}), leaf_transposed({2, 16, 1, 3}),
                                            leaf_uniform({2, 16, 1}, 0.05, 1.95)}));
    }
    SUBCASE("T = 1, d_k = d_v = 1, beta near 2") {
      HQLT_CHECK_GRADIENTS(op(16, false), (Ts{leaf({2, 1, 1, 1}), leaf({2, 1, 1, 1}), leaf({2, 1, 1, 1}),
                                             leaf_uniform({2, 1, 1}, 1.9, 1.99), leaf({2, 1, 1, 1})}));
    }
  }
}

TEST_SUITE("reference") {
  TEST_CASE("delta_rule matches the reference - f64") {
    for_each_device([](Device d) { run_grid(DType::f64, false, d); });
  }
  TEST_CASE("delta_rule matches the reference - f32") {
    for_each_device([](Device d) { run_grid(DType::f32, false, d); });
  }
  TEST_CASE("delta_rule matches the reference at the models' head dims") {
    // d = 32, 64, 128 as in the models; then d_k ≠ d_v with d_v not a multiple of the
    // GPU kernel's slice width, in both dtypes.
    for_each_device([](Device d) {
      for (int64_t dim : {32, 64, 128}) {
        Case c;
        c.B = 2, c.H = 2, c.T = 200, c.dk = dim, c.dv = dim, c.chunk = 64, c.l2 = true;
        check_against_reference(c, DType::f32, d);
      }
      Case uneven;
      uneven.B = 1, uneven.H = 3, uneven.T = 130, uneven.dk = 96, uneven.dv = 100, uneven.chunk = 64, uneven.l2 = true;
      check_against_reference(uneven, DType::f32, d);
      uneven.dk = 64, uneven.dv = 72;
      check_against_reference(uneven, DType::f64, d);
      Case empty_seq;  // T = 0: the final state is the initial one, its gradient the loss's weights
      empty_seq.T = 0;
      check_against_reference(empty_seq, DType::f32, d);
    });
  }
  TEST_CASE("delta_rule options against the reference") {
    // Every combination of the op's options once, on a shape with a partial last chunk.
    for_each_device([](Device d) {
      for (int mix = 0; mix < 72; ++mix) {
        Case c;
        c.B = 2, c.T = 19, c.H = 3, c.dk = 5, c.dv = 7, c.chunk = 16;
        c.l2 = mix % 2;
        c.init = (mix / 2) % 2;
        c.from = GradFrom((mix / 4) % 3);
        c.strided = mix % 3 == 0;
        if ((mix / 12) % 3 == 1) c.beta_lo = 1e-4, c.beta_hi = 0.01;  // near 0
        if ((mix / 12) % 3 == 2) c.beta_lo = 1.99, c.beta_hi = 2.0;   // near 2
        check_against_reference(c, mix < 36 ? DType::f64 : DType::f32, d);
      }
    });
  }
}

TEST_SUITE("slow") {
  TEST_CASE("delta_rule matches the reference on the full grid - f64") {
    for_each_device([](Device d) { run_grid(DType::f64, true, d); });
  }
  TEST_CASE("delta_rule matches the reference on the full grid - f32") {
    for_each_device([](Device d) { run_grid(DType::f32, true, d); });
  }
}

TEST_SUITE("unit") {
  TEST_CASE("delta_rule values against a plain loop") {
    for (bool l2 : {false, true})
      for (bool init : {false, true}) {
        Case c;
        c.B = 2, c.T = 21, c.H = 2, c.dk = 3, c.dv = 4, c.chunk = 8, c.l2 = l2, c.init = init;
        CAPTURE(c);
        const Inputs in = draw(c);
        const PlainResult want = plain_delta_rule(in, c);
        const DeltaRuleOutput got = delta_rule(in.q, in.k, in.v, in.beta, in.s0, c.chunk, c.l2);
        expect_close(got.o.to_vector(), want.o, 1e-12);
        expect_close(got.final_state.to_vector(), want.final_state, 1e-12);
      }
  }

  TEST_CASE("delta_rule by hand: one token - one dim") {
    // S = 0; δ = β (v − 0) = 0.5 · 2 = 1; S = k δ = 3; o = d_k^{-1/2} S q = 3 · 0.5 = 1.5.
    auto one = [](double x) { return full({1, 1, 1, 1}, x, DType::f64); };
    DeltaRuleOutput r = delta_rule(one(0.5), one(3), one(2), full({1, 1, 1}, 0.5, DType::f64), Tensor(), 8);
    CHECK(r.o.item() == doctest::Approx(1.5));
    CHECK(r.final_state.item() == doctest::Approx(3.0));
    // With ℓ2 the key becomes 3/sqrt(9 + 1e-6) ≈ 1, so S ≈ 1 and o ≈ 1 (q ≈ 1 too).
    r = delta_rule(one(0.5), one(3), one(2), full({1, 1, 1}, 0.5, DType::f64), Tensor(), 8, true);
    CHECK(r.o.item() == doctest::Approx(1.0).epsilon(1e-5));
  }

  TEST_CASE("delta_rule with T = 0 passes the initial state through") {
    Tensor q = zeros({2, 0, 3, 4}, DType::f64), v = zeros({2, 0, 3, 5}, DType::f64);
    Tensor s0 = leaf({2, 3, 4, 5});
    DeltaRuleOutput r = delta_rule(q, q, v, zeros({2, 0, 3}, DType::f64), s0, 8);
    CHECK(r.o.shape() == Shape{2, 0, 3, 5});
    CHECK(r.final_state.to_vector() == s0.to_vector());
    sum(r.final_state * 2.0).backward();
    CHECK(s0.grad().to_vector() == std::vector<double>(120, 2.0));
    DeltaRuleOutput ref = delta_rule_reference(q, q, v, zeros({2, 0, 3}, DType::f64), s0, 8);
    CHECK(ref.o.shape() == Shape{2, 0, 3, 5});
    CHECK(ref.final_state.to_vector() == s0.to_vector());
  }

  TEST_CASE("delta_rule gives the same bits on one thread and on all") {
    Case c;
    c.B = 3, c.T = 130, c.H = 3, c.dk = 16, c.dv = 8, c.chunk = 32;
    const Inputs in = draw(c);
    const DeltaRuleOutput one =
        hqlt::testing::with_threads(1, [&] { return delta_rule(in.q, in.k, in.v, in.beta, in.s0, c.chunk, true); });
    const DeltaRuleOutput all = delta_rule(in.q, in.k, in.v, in.beta, in.s0, c.chunk, true);
    CHECK(one.o.to_vector() == all.o.to_vector());
    CHECK(one.final_state.to_vector() == all.final_state.to_vector());
  }

  TEST_CASE("delta_rule with fewer pairs than threads splits by chunks and columns and keeps the bits") {
    // One or two (batch, head) pairs for 2 or 4 threads: the op then runs its chunk-local
    // parts per chunk and its recurrences per block of d_v columns. Forward and every
    // gradient must keep the one-thread bits (f32, where any other order would show), and
    // agree with the reference.
    for (const auto [B, H, T, dv, chunk, l2] : {std::tuple{1, 1, 300, 40, 64, true}, std::tuple{1, 2, 130, 20, 32, false},
                                                std::tuple{1, 1, 200, 64, 16, true}, std::tuple{1, 1, 70, 9, 64, false}}) {
      Case c;
      c.B = B, c.H = H, c.T = T, c.dk = 16, c.dv = dv, c.chunk = chunk, c.l2 = l2;
      CAPTURE(c);
      const Inputs in = draw(c);
      const Tensor w_o = randn({c.B, c.T, c.H, c.dv}, DType::f64), w_s = randn({c.B, c.H, c.dk, c.dv}, DType::f64);
      const auto fused = [&] { return run(delta_rule, c, in, DType::f32, w_o, w_s); };
      const Result one = hqlt::testing::with_threads(1, fused);
      for (int threads : {2, 4}) {
        CAPTURE(threads);
        const Result many = hqlt::testing::with_threads(threads, fused);
        CHECK(one.o.to_vector() == many.o.to_vector());
        CHECK(one.final_state.to_vector() == many.final_state.to_vector());
        REQUIRE(one.grads.size() == many.grads.size());
        for (size_t i = 0; i < one.grads.size(); ++i) {
          CAPTURE(i);
          CHECK(one.grads[i].to_vector() == many.grads[i].to_vector());
        }
      }
      check_against_reference(c, DType::f64, Device::cpu);  // on all threads: the split path
    }
  }

  TEST_CASE("delta_rule bad input") {
    const Tensor q = zeros({2, 5, 3, 4}), k = zeros({2, 5, 3, 4}), v = zeros({2, 5, 3, 6}), b = zeros({2, 5, 3});
    const Tensor s0 = zeros({2, 3, 4, 6});
    auto call = [&](const Tensor& q_, const Tensor& k_, const Tensor& v_, const Tensor& b_, const Tensor& s_,
                    int64_t chunk = 16) { return delta_rule(q_, k_, v_, b_, s_, chunk); };
    CHECK_NOTHROW(call(q, k, v, b, s0));
    // Mismatched B, T, H between the inputs.
    CHECK_THROWS_WITH_AS(call(q, zeros({1, 5, 3, 4}), v, b, s0), doctest::Contains("argument 'k': expected [B, T, H]"),
                         Error);
    CHECK_THROWS_WITH_AS(call(q, k, zeros({2, 4, 3, 6}), b, s0), doctest::Contains("argument 'v': expected [B, T, H]"),
                         Error);
    CHECK_THROWS_WITH_AS(call(q, k, zeros({2, 5, 2, 6}), b, s0), doctest::Contains("argument 'v'"), Error);
    CHECK_THROWS_WITH_AS(call(q, k, v, zeros({2, 5, 2}), s0), doctest::Contains("argument 'beta': expected shape"),
                         Error);
    CHECK_THROWS_WITH_AS(call(q, k, v, zeros({2, 5, 3, 1}), s0), doctest::Contains("argument 'beta': expected rank 3"),
                         Error);
    // d_k of k differs from q's; a wrong state shape; a wrong rank.
    CHECK_THROWS_WITH_AS(call(q, zeros({2, 5, 3, 5}), v, b, s0), doctest::Contains("argument 'k': expected d_k = 4"),
                         Error);
    CHECK_THROWS_WITH_AS(call(q, k, v, b, zeros({2, 3, 6, 4})),
                         doctest::Contains("argument 'initial_state': expected shape [2, 3, 4, 6]"), Error);
    CHECK_THROWS_WITH_AS(call(zeros({5, 3, 4}), k, v, b, s0), doctest::Contains("argument 'q': expected rank 4"), Error);
    // Chunk sizes: 0, not a power of two, outside [8, 128].
    for (int64_t chunk : {0, -8, 24, 4, 256}) {
      CAPTURE(chunk);
      CHECK_THROWS_WITH_AS(call(q, k, v, b, s0, chunk), doctest::Contains("argument 'chunk_size'"), Error);
    }
    // Dtypes: integer, and f32 mixed with f64.
    CHECK_THROWS_WITH_AS(call(zeros({2, 5, 3, 4}, DType::i64), k, v, b, s0),
                         doctest::Contains("argument 'q': expected dtype f32 or f64, got i64"), Error);
    CHECK_THROWS_WITH_AS(call(q, k, zeros({2, 5, 3, 6}, DType::f64), b, s0),
                         doctest::Contains("argument 'v': expected dtype f32 (as 'q'), got f64"), Error);
    CHECK_THROWS_WITH_AS(call(q, k, v, b, zeros({2, 3, 4, 6}, DType::f64)),
                         doctest::Contains("argument 'initial_state': expected dtype f32"), Error);
    // Devices (empty tensors own no memory, so a cuda one exists even without a GPU).
    const Tensor e = empty({0, 5, 3, 4}), e_cuda = empty({0, 5, 3, 4}, DType::f32, Device::cuda);
    CHECK_THROWS_WITH_AS(call(e, e_cuda, empty({0, 5, 3, 6}), empty({0, 5, 3}), Tensor()),
                         doctest::Contains("argument 'k': expected device cpu (as 'q'), got cuda"), Error);
#ifndef HQLT_HAS_CUDA  // a CUDA build runs cuda inputs (the reference tests, for_each_device)
    CHECK_THROWS_WITH_AS(call(e_cuda, e_cuda, empty({0, 5, 3, 6}, DType::f32, Device::cuda),
                              empty({0, 5, 3}, DType::f32, Device::cuda), Tensor()),
                         doctest::Contains("no cuda kernel"), Error);
#endif
    // The reference checks the same way.
    CHECK_THROWS_WITH_AS(delta_rule_reference(q, k, v, b, s0, 12), doctest::Contains("delta_rule_reference"), Error);
  }
}
