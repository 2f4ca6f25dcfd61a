// linear_attention (chunked, hand-written backward) against linear_attention_reference
// (full-matrix form, autograd backward) and a per-token loop written here: forward and every
// input gradient, f64 and f32, over T ∈ {1, 7, C, C+1, 300}, C ∈ {8, 16, 64}, H ∈ {1, 3},
// d_k ≠ d_v, both normalisers, strided inputs and a strided incoming gradient, the models'
// head dims — on every device (the CPU kernel and, where present, the GPU's: one test body);
// finite differences in f64; bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "chunked_grid.h"
#include "compare.h"
#include "devices.h"
#include "gradcheck.h"
#include "ops/elementwise/elementwise.h"
#include "ops/linear_attention/linear_attention.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/views.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;
using Normalizer = LinearAttentionNormalizer;

namespace {

const Normalizer kNormalizers[] = {Normalizer::reference_heads, Normalizer::time};
std::string name_of(Normalizer n) { return n == Normalizer::time ? "time" : "reference_heads"; }

using AttentionFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&, int64_t, Normalizer, double);

// The definition (docs/math/models.md §5.6), one token at a time, in double: q, k [B, T, H, dk] and
// v [B, T, H, dv] as row-major vectors.
std::vector<double> naive_linear_attention(const std::vector<double>& q, const std::vector<double>& k,
                                           const std::vector<double>& v, int64_t B, int64_t T, int64_t H,
                                           int64_t dk, int64_t dv, Normalizer normalizer, double eps) {
  auto phi = [](double x) { return x > 0 ? x + 1 : std::exp(x); };
  auto at = [&](int64_t b, int64_t t, int64_t h, int64_t d) { return ((b * T + t) * H + h) * d; };
  const double s = 1 / std::sqrt(double(dk));
  std::vector<double> out(size_t(B * T * H * dv), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> num(size_t(dv), 0.0);
        double z = 0;
        for (int64_t j = 0; j <= t; ++j) {
          double score = 0;
          for (int64_t i = 0; i < dk; ++i)
            score += phi(q[size_t(at(b, t, h, dk) + i)]) * phi(k[size_t(at(b, j, h, dk) + i)]);
          for (int64_t e = 0; e < dv; ++e) num[size_t(e)] += s * score * v[size_t(at(b, j, h, dv) + e)];
          if (normalizer == Normalizer::time) z += s * score;
        }
        if (normalizer == Normalizer::reference_heads)
          for (int64_t hp = 0; hp <= h; ++hp)
            for (int64_t i = 0; i < dk; ++i)
              z += s * phi(q[size_t(at(b, t, h, dk) + i)]) * phi(k[size_t(at(b, t, hp, dk) + i)]);
        for (int64_t e = 0; e < dv; ++e) out[size_t(at(b, t, h, dv) + e)] = num[size_t(e)] / (z + eps);
      }
  return out;
}

struct Run {
  Tensor out, dq, dk, dv;
};

// Output and the gradients of loss = Σ out ⊙ w. With `strided_grad` the loss reads the
// output through a permuted view, so the op's backward receives a non-contiguous gradient.
Run run(AttentionFn f, const Ts& qkv, const Tensor& w, DType dtype, int64_t chunk, Normalizer normalizer,
        bool strided_inputs = false, bool strided_grad = false, Device device = Device::cpu) {
  // Strided inputs: storage laid out [B, T, d, H], so the op sees non-contiguous views.
  Tensor q = leaf_copy(qkv[0], dtype, strided_inputs, device), k = leaf_copy(qkv[1], dtype, false, device),
         v = leaf_copy(qkv[2], dtype, strided_inputs, device);
  Tensor out = f(q, k, v, chunk, normalizer, 1e-10);
  Tensor wd = w.to(dtype).to(device);
  Tensor loss = strided_grad ? sum(out.permute({0, 2, 1, 3}) * wd.permute({0, 2, 1, 3})) : sum(out * wd);
  loss.backward();
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

// Fused on `device` vs the reference on the CPU for one shape: in f64 within 1e-10 of the
// f64 reference; in f32 within
// the bound the reference's own f32 error on the same draw sets (f32_tolerance, compare.h).
// With T = 1 under the time normaliser, or with one head under the heads one, out_0 = v_0
// whatever q_0 and k_0 are: dq and dk vanish up to eps (≈1e-11), so their error is measured
// against the scale of dv, the loss's natural gradient scale, instead of their own.
void check_against_reference(Device device, int64_t B, int64_t T, int64_t H, int64_t dk, int64_t dv,
                             int64_t chunk, Normalizer normalizer, bool strided_inputs = false,
                             bool strided_grad = false) {
  CAPTURE(B);
  CAPTURE(T);
  CAPTURE(H);
  CAPTURE(dk);
  CAPTURE(dv);
  CAPTURE(chunk);
  const std::string normalizer_name = name_of(normalizer);
  CAPTURE(normalizer_name);
  CAPTURE(strided_inputs);
  CAPTURE(strided_grad);
  Ts qkv{randn({B, T, H, dk}, DType::f64), randn({B, T, H, dk}, DType::f64), randn({B, T, H, dv}, DType::f64)};
  Tensor w = randn({B, T, H, dv}, DType::f64);
  Run want = run(linear_attention_reference, qkv, w, DType::f64, chunk, normalizer);
  Run want32 = run(linear_attention_reference, qkv, w, DType::f32, chunk, normalizer);
  const bool qk_vanish = T == 1 && (normalizer == Normalizer::time || H == 1);
  for (DType dtype : {DType::f64, DType::f32}) {
    const std::string dtype_label = dtype_name(dtype);
    CAPTURE(dtype_label);
    // The error of result `got` against `ref`, measured against `scale`, and its bound.
    auto check = [&](const char* what, const Tensor& got, const Tensor& ref, const Tensor& ref32,
                     const Tensor& scale) {
      INFO(what);
      CHECK(max_error(got, ref, scale) <= reference_tolerance(dtype, ref32, ref, scale));
    };
    Run got = run(linear_attention, qkv, w, dtype, chunk, normalizer, strided_inputs, strided_grad, device);
    CHECK(got.out.dtype() == dtype);
    CHECK(got.out.device() == device);
    check("out", got.out, want.out, want32.out, want.out);
    check("dq", got.dq, want.dq, want32.dq, qk_vanish ? want.dv : want.dq);
    check("dk", got.dk, want.dk, want32.dk, qk_vanish ? want.dv : want.dk);
    check("dv", got.dv, want.dv, want32.dv, want.dv);
  }
}

// The grid: the chunked lengths (chunked_grid.h), H ∈ {1, 3}, both normalisers.
void check_grid(Device device) {
  for_each_chunked_length([&](int64_t chunk, int64_t T) {
    for (int64_t H : {1, 3})
      for (Normalizer n : kNormalizers) check_against_reference(device, 2, T, H, 6, 5, chunk, n);
  });
}

Tensor fused_of(const Ts& x, int64_t chunk, Normalizer n) { return linear_attention(x[0], x[1], x[2], chunk, n); }

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck linear_attention") {
    for (Normalizer n : kNormalizers) {
      const std::string normalizer_name = name_of(n);
      CAPTURE(normalizer_name);
      auto chunk2 = [n](const Ts& x) { return fused_of(x, 2, n); };
      auto chunk4 = [n](const Ts& x) { return fused_of(x, 4, n); };
      auto chunk64 = [n](const Ts& x) { return fused_of(x, 64, n); };
      // T = 5 crosses two chunk boundaries of 2 and ends in a partial chunk of 4.
      HQLT_CHECK_GRADIENTS(chunk2, (Ts{leaf({2, 5, 3, 3}), leaf({2, 5, 3, 3}), leaf({2, 5, 3, 2})}));
      HQLT_CHECK_GRADIENTS(chunk4, (Ts{leaf({1, 5, 2, 2}), leaf({1, 5, 2, 2}), leaf({1, 5, 2, 3})}));
      // One head, d_v = 1; a chunk longer than the sequence.
      HQLT_CHECK_GRADIENTS(chunk64, (Ts{leaf({2, 3, 1, 2}), leaf({2, 3, 1, 2}), leaf({2, 3, 1, 1})}));
      // Non-contiguous q and v (storage [B, T, d, H]), a contiguous k.
      HQLT_CHECK_GRADIENTS(chunk2, (Ts{leaf_transposed({1, 5, 3, 2}), leaf({1, 5, 3, 2}), leaf_transposed({1, 5, 3, 4})}));
      // The reference form too (it is library code the fused op is measured against).
      auto reference = [n](const Ts& x) { return linear_attention_reference(x[0], x[1], x[2], 64, n); };
      HQLT_CHECK_GRADIENTS(reference, (Ts{leaf({1, 4, 2, 2}), leaf({1, 4, 2, 2}), leaf({1, 4, 2, 3})}));
      // T = 1 and d_k = 1: the output no longer depends on q (φ(q) cancels between numerator
      // and normaliser when d_k = 1; at T = 1 with the time normaliser out = v), so dq is 0 up
      // to eps and an f32-vs-f64 comparison relative to it would compare rounding noise. The
      // finite-difference check still holds everywhere.
      for (const Ts& inputs : {Ts{leaf({2, 1, 1, 1}), leaf({2, 1, 1, 1}), leaf({2, 1, 1, 1})},
                               Ts{leaf({1, 1, 3, 2}), leaf({1, 1, 3, 2}), leaf({1, 1, 3, 2})},
                               Ts{leaf({1, 4, 2, 1}), leaf({1, 4, 2, 1}), leaf({1, 4, 2, 2})}}) {
        CheckResult result = gradcheck(chunk2, inputs);
        INFO("gradcheck: " << result.report);
        CHECK(result.ok);
      }
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("linear_attention forward matches the per-token definition") {
    const int64_t B = 2, T = 11, H = 3, dk = 4, dv = 5;
    Tensor q = randn({B, T, H, dk}, DType::f64), k = randn({B, T, H, dk}, DType::f64),
           v = randn({B, T, H, dv}, DType::f64);
    for (Normalizer n : kNormalizers) {
      const std::string normalizer_name = name_of(n);
      CAPTURE(normalizer_name);
      std::vector<double> want =
          naive_linear_attention(q.to_vector(), k.to_vector(), v.to_vector(), B, T, H, dk, dv, n, 1e-10);
      Tensor expected = from_vector(want, {B, T, H, dv}, DType::f64);
      for (int64_t chunk : {1, 4, 8, 64}) {
        CAPTURE(chunk);
        Tensor got = linear_attention(q, k, v, chunk, n);
        CHECK(got.shape() == Shape{B, T, H, dv});
        CHECK(got.is_contiguous());
        expect_close(got, expected, 1e-12);
      }
      CHECK(max_error(linear_attention_reference(q, k, v, 64, n), expected) <= 1e-12);
    }
  }

  TEST_CASE("linear_attention normalisers differ as the spec says") {
    // One head, one token: both sum the same single key, so they agree. Two tokens: the
    // reference form still sees only the current token's key, the time form both keys.
    Tensor q = randn({1, 2, 1, 3}, DType::f64), k = randn({1, 2, 1, 3}, DType::f64), v = randn({1, 2, 1, 2}, DType::f64);
    std::vector<double> heads = linear_attention(q, k, v, 64, Normalizer::reference_heads).to_vector();
    std::vector<double> time = linear_attention(q, k, v, 64, Normalizer::time).to_vector();
    CHECK(heads[0] == doctest::Approx(time[0]).epsilon(1e-14));
    CHECK(heads[2] != doctest::Approx(time[2]).epsilon(1e-6));
    // With the time normaliser, a constant value sequence is returned unchanged (the
    // weights sum to one); eps (1e-10) is the only deviation.
    Tensor ones_v = full({1, 2, 1, 2}, 0.75, DType::f64);
    for (double x : linear_attention(q, k, ones_v, 64, Normalizer::time).to_vector())
      CHECK(x == doctest::Approx(0.75).epsilon(1e-9));
  }

  TEST_CASE("linear_attention f32 stays close to f64 on the exponential side of elu+1") {
    // The f32 kernel evaluates e^x with its own polynomial; inputs mostly below 0 exercise
    // it. Plain f32 rounding keeps these errors near 3e-7, well inside the 1e-4 of the
    // reference checks, so this bound is the one that would notice a sloppy exponential.
    Ts qkv{rand({2, 40, 2, 16}, DType::f64, Device::cpu, -6, 1), rand({2, 40, 2, 16}, DType::f64, Device::cpu, -6, 1),
           randn({2, 40, 2, 8}, DType::f64)};
    Tensor w = randn({2, 40, 2, 8}, DType::f64);
    for (Normalizer n : kNormalizers) {
      const std::string normalizer_name = name_of(n);
      CAPTURE(normalizer_name);
      Run want = run(linear_attention, qkv, w, DType::f64, 16, n);
      Run got = run(linear_attention, qkv, w, DType::f32, 16, n);
      expect_close(got.out, want.out, 2e-6);
      expect_close(got.dq, want.dq, 2e-6);
      expect_close(got.dk, want.dk, 2e-6);
      expect_close(got.dv, want.dv, 2e-6);
    }
  }

  TEST_CASE("linear_attention on empty sequences and empty values") {
    Tensor q = randn({2, 0, 3, 4}), v = randn({2, 0, 3, 5});
    CHECK(linear_attention(q, q, v).shape() == Shape{2, 0, 3, 5});
    // d_v = 0: an empty output, and zero gradients for q and k.
    Tensor q2 = randn({1, 3, 2, 4}, DType::f64), v2 = randn({1, 3, 2, 0}, DType::f64);
    q2.set_requires_grad(true);
    Tensor out = linear_attention(q2, q2, v2, 2);
    CHECK(out.shape() == Shape{1, 3, 2, 0});
    sum(out).backward();
    for (double g : q2.grad().to_vector()) CHECK(g == 0.0);
  }

  TEST_CASE("linear_attention bad input") {
    Tensor q = randn({2, 5, 3, 4}), k = randn({2, 5, 3, 4}), v = randn({2, 5, 3, 6});
    auto throws = [](auto&& expr, const char* text) {
      CAPTURE(text);
      CHECK_THROWS_WITH_AS(expr(), doctest::Contains(text), Error);
    };
    for (AttentionFn f : {AttentionFn(linear_attention), AttentionFn(linear_attention_reference)}) {
      auto call = [f](const Tensor& a, const Tensor& b, const Tensor& c, int64_t chunk = 64, double eps = 1e-10) {
        return [=] { return f(a, b, c, chunk, Normalizer::reference_heads, eps); };
      };
      throws(call(randn({2, 5, 12}), k, v), "argument 'q': expected rank 4");
      throws(call(q, k, randn({2, 5, 18})), "argument 'v': expected rank 4");
      throws(call(q, randn({3, 5, 3, 4}), v), "argument 'k': expected B = 2");
      throws(call(q, k, randn({2, 4, 3, 6})), "argument 'v': expected T = 5");
      throws(call(q, randn({2, 5, 2, 4}), v), "argument 'k': expected H = 3");
      throws(call(q, randn({2, 5, 3, 5}), v), "argument 'k': expected d_k = 4");
      throws(call(randn({2, 5, 3, 0}), randn({2, 5, 3, 0}), v), "expected d_k >= 1");
      for (int64_t chunk : {0, -8, 3, 48})
        throws(call(q, k, v, chunk), "argument 'chunk_size': expected a power of two");
      throws(call(q, k, v, 64, -1.0), "argument 'eps': expected a finite value >= 0");
      throws(call(zeros({2, 5, 3, 4}, DType::i32), k, v), "argument 'q': expected dtype f32 or f64, got i32");
      throws(call(q, randn({2, 5, 3, 4}, DType::f64), v), "argument 'k': expected dtype f32 (as 'q'), got f64");
      throws(call(q, k, randn({2, 5, 3, 6}, DType::f64)), "argument 'v': expected dtype f32 (as 'q'), got f64");
      Tensor on_cuda = empty({2, 0, 3, 4}, DType::f32, Device::cuda);
#ifndef HQLT_HAS_CUDA  // a CUDA build runs cuda inputs (the reference tests, for_each_device)
      throws(call(on_cuda, on_cuda, empty({2, 0, 3, 6}, DType::f32, Device::cuda)), "no cuda kernel");
#endif
      throws(call(randn({2, 0, 3, 4}), on_cuda, randn({2, 0, 3, 6})), "expected device cpu (as 'q'), got cuda");
      throws(call(Tensor(), k, v), "argument 'q' is an undefined tensor");
    }
  }
}

TEST_SUITE("reference") {
  TEST_CASE("linear_attention matches the reference (forward and gradients)") {
    for_each_device([](Device d) { check_grid(d); });
  }
  TEST_CASE("linear_attention matches the reference with strided inputs and gradient") {
    for_each_device([](Device d) {
      for (Normalizer n : kNormalizers) {
        check_against_reference(d, 2, 37, 3, 8, 4, 16, n, /*strided_inputs=*/true, /*strided_grad=*/true);
        check_against_reference(d, 1, 20, 2, 2, 1, 8, n, /*strided_inputs=*/true, /*strided_grad=*/false);
      }
    });
  }
  TEST_CASE("linear_attention matches the reference at model head sizes") {
    // d_k = 64, d_v = 48: the chunk products are large enough for the packed GEMM path;
    // d = 32, 128 as in the models; d_v = 100, not a multiple of the GPU kernel's slice
    // width; a chunk below 8, run as asked; T = 0.
    for_each_device([](Device d) {
      for (Normalizer n : kNormalizers) {
        check_against_reference(d, 1, 150, 2, 64, 48, 64, n);
        check_against_reference(d, 2, 130, 2, 64, 48, 32, n, /*strided_inputs=*/true, /*strided_grad=*/true);
        for (int64_t dim : {32, 128}) check_against_reference(d, 2, 200, 2, dim, dim, 64, n);
        check_against_reference(d, 1, 130, 3, 96, 100, 64, n);
        check_against_reference(d, 2, 37, 3, 6, 5, 2, n);
        check_against_reference(d, 2, 0, 3, 6, 5, 16, n);
      }
    });
  }
  TEST_CASE("linear_attention gradients when only some inputs need them") {
    Tensor q = randn({1, 9, 2, 3}, DType::f64), k = randn({1, 9, 2, 3}, DType::f64), v = randn({1, 9, 2, 4}, DType::f64);
    Tensor v_leaf = clone_contiguous(v);
    v_leaf.set_requires_grad(true);
    sum(linear_attention(q, k, v_leaf, 8, Normalizer::time)).backward();
    Tensor v_ref = clone_contiguous(v);
    v_ref.set_requires_grad(true);
    sum(linear_attention_reference(q, k, v_ref, 8, Normalizer::time)).backward();
    expect_close(v_leaf.grad(), v_ref.grad(), 1e-12);
  }
}
