// rope: gradients by finite differences in f64 and f32-vs-f64 (offsets, one head, d = 2,
// T = 1, strided x and strided incoming gradient); values against the 2-D rotation by hand
// and a plain loop over the spec's formula; the KV-cache property; bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "gradcheck.h"
#include "ops/rope/rope.h"
#include "ops/shape/views.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// docs/math/models.md §1.5 in double, one element at a time: x [B, T, H, d] row-major.
std::vector<double> naive_rope(const std::vector<double>& x, int64_t B, int64_t T, int64_t H, int64_t d, double base,
                               int64_t offset) {
  std::vector<double> y(x.size());
  const int64_t m = d / 2;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < m; ++i) {
          double phi = double(offset + t) * std::pow(base, -2.0 * double(i) / double(d));
          size_t at = size_t(((b * T + t) * H + h) * d);
          double x1 = x[at + size_t(i)], x2 = x[at + size_t(i + m)];
          y[at + size_t(i)] = x1 * std::cos(phi) - x2 * std::sin(phi);
          y[at + size_t(i + m)] = x2 * std::cos(phi) + x1 * std::sin(phi);
        }
  return y;
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck rope") {
    auto at = [](double base, int64_t offset) {
      return [base, offset](const Ts& in) { return rope(in[0], base, offset); };
    };
    SUBCASE("plain") { HQLT_CHECK_GRADIENTS(at(10000, 0), (Ts{leaf({2, 3, 2, 6})})); }
    SUBCASE("position offset") { HQLT_CHECK_GRADIENTS(at(10000, 7), (Ts{leaf({2, 3, 2, 4})})); }
    SUBCASE("one head, d = 2, other base") { HQLT_CHECK_GRADIENTS(at(100, 2), (Ts{leaf({1, 4, 1, 2})})); }
    SUBCASE("T = 1") { HQLT_CHECK_GRADIENTS(at(10000, 3), (Ts{leaf({3, 1, 2, 4})})); }
    SUBCASE("strided x") { HQLT_CHECK_GRADIENTS(at(10000, 1), (Ts{leaf_transposed({2, 3, 3, 4})})); }
    SUBCASE("x a [B, H, T, d] tensor seen as [B, T, H, d]") {
      Tensor base = leaf({2, 3, 4, 4});
      Tensor x;
      {
        NoGrad ng;
        x = base.transpose(1, 2).detach();
      }
      x.set_requires_grad(true);
      HQLT_CHECK_GRADIENTS(at(10000, 0), (Ts{x}));
    }
    SUBCASE("strided incoming gradient") {
      auto f = [](const Ts& in) { return rope(in[0], 10000, 5).transpose(1, 3); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 3, 2, 4})}));
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("rope with d = 2 is the plane rotation by p radians") {
    // d = 2: m = 1, ω_0 = base^0 = 1, so position p turns (a, b) by exactly p radians.
    const double cos1 = 0.5403023058681398, sin1 = 0.8414709848078965;  // cos 1, sin 1
    Tensor x = from_vector({3, 4, 3, 4}, {1, 2, 1, 2}, DType::f64);      // the same (3, 4) at t = 0, 1
    std::vector<double> y = rope(x).to_vector();
    CHECK(y[0] == 3.0);  // position 0: no rotation, exactly
    CHECK(y[1] == 4.0);
    CHECK(y[2] == doctest::Approx(3 * cos1 - 4 * sin1).epsilon(1e-12));
    CHECK(y[3] == doctest::Approx(4 * cos1 + 3 * sin1).epsilon(1e-12));
    // With offset 1 the first token sits at position 1.
    std::vector<double> z = rope(x, 10000, 1).to_vector();
    CHECK(z[0] == doctest::Approx(3 * cos1 - 4 * sin1).epsilon(1e-12));
    CHECK(z[1] == doctest::Approx(4 * cos1 + 3 * sin1).epsilon(1e-12));
  }

  TEST_CASE("rope matches the plain loop") {
    struct Case {
      int64_t B, T, H, d, offset;
      double base;
    };
    // The last case is large enough for the threaded path.
    for (Case k : {Case{2, 5, 3, 8, 0, 10000}, Case{1, 1, 1, 2, 11, 10000}, Case{2, 4, 2, 6, 3, 500},
                   Case{2, 64, 4, 64, 9, 10000}}) {
      for (DType dtype : {DType::f64, DType::f32}) {
        CAPTURE(k.B);
        CAPTURE(k.T);
        CAPTURE(k.H);
        CAPTURE(k.d);
        CAPTURE(k.offset);
        CAPTURE(dtype);
        Tensor x = randn({k.B, k.T, k.H, k.d}, dtype);
        Tensor y = rope(x, k.base, k.offset);
        CHECK(y.shape() == x.shape());
        CHECK(y.dtype() == dtype);
        std::vector<double> want = naive_rope(x.to_vector(), k.B, k.T, k.H, k.d, k.base, k.offset);
        std::vector<double> got = y.to_vector();
        // The angles are f32 (spec §1.5): at positions below 100 they carry ~1e-5 absolute error.
        for (size_t i = 0; i < got.size(); ++i) {
          CAPTURE(i);
          CHECK(got[i] == doctest::Approx(want[i]).epsilon(2e-5).scale(1.0));
        }
      }
    }
  }

  TEST_CASE("rope at offset p equals the longer sequence sliced at p") {
    // The KV-cache property: tokens decoded after p cached ones get the rows a full pass gives.
    Tensor full_seq = randn({2, 12, 3, 8});
    Tensor whole = rope(full_seq);
    for (int64_t p : {0, 1, 5, 11}) {
      CAPTURE(p);
      Tensor tail = rope(full_seq.slice(1, p, 12), 10000, p);
      CHECK(tail.to_vector() == whole.slice(1, p, 12).to_vector());
      Tensor one = rope(full_seq.slice(1, p, p + 1), 10000, p);
      CHECK(one.to_vector() == whole.slice(1, p, p + 1).to_vector());
    }
  }

  TEST_CASE("rope backward is the inverse rotation") {
    // Rotations are orthogonal: sending y = rope(x) back as the gradient returns x.
    Tensor x = randn({2, 5, 2, 6}, DType::f64);
    Tensor xl = x.detach();
    xl.set_requires_grad(true);
    Tensor y = rope(xl, 10000, 4);
    y.backward(y.detach());
    std::vector<double> back = xl.grad().to_vector(), want = x.to_vector();
    for (size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      CHECK(back[i] == doctest::Approx(want[i]).epsilon(1e-6).scale(1.0));  // f32-rounded cos²+sin²
    }
  }

  TEST_CASE("rope bad input") {
    CHECK_THROWS_WITH_AS(rope(zeros({2, 3, 4})), doctest::Contains("argument 'x': expected rank 4"), Error);
    CHECK_THROWS_WITH_AS(rope(zeros({1, 2, 3, 4, 2})), doctest::Contains("expected rank 4"), Error);
    CHECK_THROWS_WITH_AS(rope(zeros({2, 3, 1, 5})), doctest::Contains("expected an even head dim"), Error);
    CHECK_THROWS_WITH_AS(rope(zeros({2, 3, 1, 0})), doctest::Contains("expected an even head dim"), Error);
    CHECK_THROWS_WITH_AS(rope(zeros({2, 3, 1, 4}, DType::i64)), doctest::Contains("expected dtype f32 or f64, got i64"),
                         Error);
    CHECK_THROWS_WITH_AS(rope(zeros({2, 3, 1, 4}, DType::i32)), doctest::Contains("got i32"), Error);
    CHECK_THROWS_WITH_AS(rope(zeros({2, 3, 1, 4}), 10000, -1), doctest::Contains("'position_offset': expected >= 0"),
                         Error);
    CHECK_THROWS_WITH_AS(rope(zeros({2, 3, 1, 4}), 0.0), doctest::Contains("'base': expected a finite value > 0"),
                         Error);
    CHECK_THROWS_WITH_AS(rope(Tensor()), doctest::Contains("undefined"), Error);
  }
}
