// hqlt::gemm::gemm and gemm_strided_batched against the plain triple loop gemm_reference.
//
// Most cases use small-integer inputs and alpha, beta in {0, +-0.5, 1, 2}: every partial
// sum is then an exactly representable integer (or half-integer), so any blocking, any
// summation order and any thread split must reproduce the reference bit for bit. One case
// uses real-valued inputs and the classical error bound instead.
//
// Shapes straddle the AVX-512 blocking (MR = 14, NR = 32 (f32) / 16 (f64), KC = 384 /
// 192, MC = 168, NC = 640), the direct path for tiny products (m * n * k < 32^3), and each way of
// splitting one product over two threads (rows, columns, depth).
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ops/matmul/fma_peak.h"
#include "ops/matmul/gemm.h"
#include "ops/matmul/gemm_blocked.h"
#include "threads.h"

namespace {

using hqlt::gemm::gemm;
using hqlt::gemm::gemm_reference;
using hqlt::gemm::gemm_strided_batched;
using hqlt::testing::ThreadCount;
using hqlt::testing::with_threads;

struct Shape {
  int64_t m, n, k;
};

struct Transposes {
  bool a, b;
};
constexpr Transposes kAllTransposes[] = {{false, false}, {false, true}, {true, false}, {true, true}};

struct Scalars {
  double alpha, beta;
};
// beta == 0 runs with C poisoned by NaN: the result must not read it.
constexpr Scalars kScalars[] = {{1, 0}, {-0.5, 0}, {1, 1}, {2, -0.5}};

enum class Fill { small_integers, reals };

// op(A) [m, k], op(B) [k, n], C [m, n], each stored row-major with a leading dimension
// `pad` larger than the minimum, so the kernels must honour lda / ldb / ldc. The padding
// of C holds a sentinel that must survive.
template <typename T>
struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  std::vector<T> a, b, c;

  Problem(Transposes t, Shape s, int64_t pad, Fill fill, bool poison_c, uint64_t seed)
      : trans_a(t.a), trans_b(t.b), m(s.m), n(s.n), k(s.k) {
    const int64_t a_rows = t.a ? k : m, a_cols = t.a ? m : k;
    const int64_t b_rows = t.b ? n : k, b_cols = t.b ? k : n;
    lda = a_cols + pad;
    ldb = b_cols + pad;
    ldc = n + pad;
    std::mt19937_64 rng(seed);
    a = random_values(a_rows * lda, fill, rng);
    b = random_values(b_rows * ldb, fill, rng);
    c = poison_c ? std::vector<T>(static_cast<size_t>(m * ldc),
                                  std::numeric_limits<T>::quiet_NaN())
                 : random_values(m * ldc, fill, rng);
  }

  static std::vector<T> random_values(int64_t count, Fill fill, std::mt19937_64& rng) {
    std::vector<T> v(static_cast<size_t>(count));
    std::uniform_int_distribution<int> small(-4, 4);
    std::uniform_real_distribution<double> real(-1.0, 1.0);
    for (T& x : v) x = static_cast<T>(fill == Fill::small_integers ? small(rng) : real(rng));
    return v;
  }

  // C after the reference product (the oracle).
  std::vector<T> reference(T alpha, T beta) const {
    std::vector<T> out = c;
    gemm_reference<T>(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta,
                      out.data(), ldc);
    return out;
  }

  // C after the fast product.
  std::vector<T> fast(T alpha, T beta) const {
    std::vector<T> out = c;
    gemm<T>(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, out.data(),
            ldc);
    return out;
  }
};

// Bitwise-equal values (two NaNs count as equal: the untouched padding of a poisoned C).
template <typename T>
void expect_equal(const char* label, const std::vector<T>& want, const std::vector<T>& got) {
  REQUIRE(want.size() == got.size());
  size_t mismatches = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const bool same = want[i] == got[i] || (std::isnan(want[i]) && std::isnan(got[i]));
    if (!same && mismatches++ == 0) first = i;
  }
  INFO(label << ": " << mismatches << " mismatches; first at flat index " << first
             << ": want " << (mismatches ? want[first] : T(0)) << ", got "
             << (mismatches ? got[first] : T(0)));
  CHECK(mismatches == 0);
}

// One case in words, for a failing check's message.
std::string describe(Transposes t, Shape s, Scalars sc) {
  return std::string("trans_a ") + (t.a ? "1" : "0") + ", trans_b " + (t.b ? "1" : "0") + ", m n k " +
         std::to_string(s.m) + " " + std::to_string(s.n) + " " + std::to_string(s.k) + ", alpha " +
         std::to_string(sc.alpha) + ", beta " + std::to_string(sc.beta);
}

template <typename T>
void check_exact(Transposes t, Shape s, Scalars sc, int64_t pad = 3) {
  INFO(describe(t, s, sc));
  const Problem<T> p(t, s, pad, Fill::small_integers, sc.beta == 0, 1234 + s.m * 7 + s.k);
  const T alpha = static_cast<T>(sc.alpha), beta = static_cast<T>(sc.beta);
  expect_equal("gemm vs reference", p.reference(alpha, beta), p.fast(alpha, beta));
}

// Awkward sizes: 1, primes, and one past / one short of each blocking size.
constexpr Shape kShapes[] = {
    {1, 1, 1},     {1, 7, 17},     {7, 1, 33},      {17, 33, 1},     {33, 17, 7},
    {100, 7, 257}, {13, 31, 383},  {14, 32, 384},   {15, 33, 385},   {29, 17, 193},
    {29, 641, 17}, {257, 100, 33}, {3, 700, 50},    {43, 65, 200},   {169, 40, 30},
};

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE_TEMPLATE("gemm matches the reference exactly: every transpose - awkward sizes",
                     T, float, double) {
    const ThreadCount single(1);
    for (const Transposes t : kAllTransposes)
      for (const Shape s : kShapes)
        for (const Scalars sc : kScalars) check_exact<T>(t, s, sc);
  }

  TEST_CASE_TEMPLATE("gemm over several K and N blocks - minimal and padded strides", T,
                     float, double) {
    const ThreadCount single(1);
    for (const Transposes t : kAllTransposes) {
      check_exact<T>(t, {45, 700, 800}, {1, 0}, 0);
      check_exact<T>(t, {45, 700, 800}, {2, -0.5}, 5);
    }
  }

  TEST_CASE("gemm: k = 0 or alpha = 0 only scales C - empty C is a no-op") {
    const Problem<float> p({false, false}, {5, 6, 0}, 2, Fill::small_integers, false, 7);
    expect_equal("k = 0", p.reference(1.f, 0.5f), p.fast(1.f, 0.5f));
    const Problem<float> q({true, false}, {40, 50, 60}, 2, Fill::small_integers, true, 8);
    expect_equal("alpha = 0, beta = 0", q.reference(0.f, 0.f), q.fast(0.f, 0.f));
    float untouched = 3.f;
    gemm<float>(false, false, 0, 1, 1, 1.f, nullptr, 1, nullptr, 1, 0.f, &untouched, 1);
    CHECK(untouched == 3.f);
  }

  TEST_CASE_TEMPLATE("gemm with real values stays within the summation error bound", T,
                     float, double) {
    // |fl(sum) - sum| <= gamma_k * sum |a_ip| |b_pj| for any order of summation, with
    // gamma_k = k u / (1 - k u); we allow twice that (reference and fast both round).
    const ThreadCount two(2);
    for (const Transposes t : kAllTransposes) {
      CAPTURE(t.a);
      CAPTURE(t.b);
      const Shape s{130, 150, 500};
      const Problem<T> p(t, s, 1, Fill::reals, false, 99);
      Problem<T> abs_p = p;
      for (T& x : abs_p.a) x = std::abs(x);
      for (T& x : abs_p.b) x = std::abs(x);
      for (T& x : abs_p.c) x = T(0);
      const std::vector<T> want = p.reference(T(1), T(0.5));
      const std::vector<T> got = p.fast(T(1), T(0.5));
      const std::vector<T> magnitude = abs_p.reference(T(1), T(0));
      const double u = std::numeric_limits<T>::epsilon() / 2;
      const double gamma = s.k * u / (1 - s.k * u);
      double worst = 0;  // error / allowed error
      for (size_t i = 0; i < want.size(); ++i) {
        const double allowed = 2 * gamma * (magnitude[i] + std::abs(p.c[i])) + 1e-300;
        worst = std::max(worst, std::abs(double(want[i]) - double(got[i])) / allowed);
      }
      CHECK(worst <= 1.0);
    }
  }

  TEST_CASE_TEMPLATE("gemm with two threads splits rows - columns or depth exactly", T, float,
                     double) {
    // rows: m large; columns: m small, n large; depth: m and n small, k large (the
    // weight-gradient shape).
    const ThreadCount two(2);
    constexpr Shape kSplitShapes[] = {{301, 64, 70}, {20, 401, 90}, {30, 40, 1001}};
    for (const Transposes t : kAllTransposes)
      for (const Shape s : kSplitShapes)
        for (const Scalars sc : kScalars) check_exact<T>(t, s, sc);
  }

  TEST_CASE_TEMPLATE("gemm with two threads gives the one-thread bits with real values", T, float, double) {
    // Each split keeps every element's summation order (the depth split adds whole K
    // blocks in order), so a run does not depend on --threads. Real values would show any
    // other order in the last bits. The depth shapes: one K block over (no split), two and
    // three blocks (a wave with an idle thread), many blocks (the weight-gradient shape).
    constexpr Shape kShapes[] = {{301, 64, 70}, {20, 401, 90}, {30, 40, 1001}, {30, 40, 383},
                                 {40, 30, 700}, {128, 128, 5120}};
    for (const Transposes t : kAllTransposes)
      for (const Shape s : kShapes)
        for (const Scalars sc : {Scalars{1, 0}, Scalars{1, 1}, Scalars{-0.5, 2}}) {
          INFO(describe(t, s, sc));
          const Problem<T> p(t, s, 2, Fill::reals, false, 7 + s.m + s.k);
          const T alpha = static_cast<T>(sc.alpha), beta = static_cast<T>(sc.beta);
          const auto product = [&] { return p.fast(alpha, beta); };
          expect_equal("two threads vs one", with_threads(1, product), with_threads(2, product));
        }
  }

  TEST_CASE_TEMPLATE("gemm of one row gives the blocked path's bits with real values", T, float, double) {
    // The one-row path (m = 1, alpha = 1, beta 0 or 1) sums in the blocked path's order:
    // with real values any other order would show in the last bits. k over one and several
    // K blocks, n off the vector width, every transpose, padded strides, one thread.
    const ThreadCount one(1);
    for (const Transposes t : kAllTransposes)
      for (const Shape s : {Shape{1, 256, 256}, Shape{1, 688, 256}, Shape{1, 37, 1001}, Shape{1, 300, 383},
                            Shape{1, 1000, 64}})
        for (const double beta : {0.0, 1.0}) {
          CAPTURE(t.a);
          CAPTURE(t.b);
          CAPTURE(s.n);
          CAPTURE(s.k);
          CAPTURE(beta);
          const Problem<T> p(t, s, 3, Fill::reals, false, 99 + s.n + s.k);
          std::vector<T> blocked = p.c;
          hqlt::gemm::detail::gemm_blocked<T>(p.trans_a, p.trans_b, 1, p.n, p.k, T(1), p.a.data(), p.lda,
                                              p.b.data(), p.ldb, T(beta), blocked.data(), p.ldc);
          expect_equal("one row vs blocked", blocked, p.fast(T(1), T(beta)));
        }
  }

  TEST_CASE_TEMPLATE("gemm_columns gives gemm's bits for any column slices with real values", T, float, double) {
    // A product's columns cut into slices of every width, each slice computed alone, must
    // give gemm's whole product to the bit: on both sides of the direct path's limit, off
    // the micro-tile width, every transpose, beta 0 and not.
    using hqlt::gemm::gemm_columns;
    for (const Transposes t : kAllTransposes)
      for (const Shape s : {Shape{64, 64, 64}, Shape{8, 64, 64}, Shape{4, 40, 64}, Shape{1, 64, 64}, Shape{30, 77, 500},
                            Shape{64, 48, 7}})
        for (const Scalars sc : {Scalars{1, 0}, Scalars{-1, 1}, Scalars{0.125, 1}})
          for (const int64_t width : {1, 5, 16, 20, 32}) {
            INFO(describe(t, s, sc) << ", slice width " << width);
            const Problem<T> p(t, s, 3, Fill::reals, false, 5 + s.m + s.n);
            const T alpha = static_cast<T>(sc.alpha), beta = static_cast<T>(sc.beta);
            std::vector<T> sliced = p.c;
            for (int64_t j0 = 0; j0 < p.n; j0 += width)
              gemm_columns<T>(p.trans_a, p.trans_b, p.m, p.n, j0, std::min(width, p.n - j0), p.k, alpha, p.a.data(),
                              p.lda, p.b.data(), p.ldb, beta, sliced.data(), p.ldc);
            expect_equal("column slices vs gemm", with_threads(1, [&] { return p.fast(alpha, beta); }), sliced);
          }
  }

  TEST_CASE("gemm called inside an OpenMP parallel region runs on each calling thread") {
    const ThreadCount two(2);
    const Shape shapes[2] = {{90, 70, 300}, {33, 130, 65}};
    std::vector<float> want[2], got[2];
    for (int i = 0; i < 2; ++i) {
      const Problem<float> p({i == 1, i == 0}, shapes[i], 2, Fill::small_integers, false, 5 + i);
      want[i] = p.reference(2.f, 1.f);
    }
    int threads_seen = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
      threads_seen = omp_get_num_threads();
      const int i = omp_get_thread_num();
      if (i < 2) {
        const Problem<float> p({i == 1, i == 0}, shapes[i], 2, Fill::small_integers, false,
                               5 + i);
        got[i] = p.fast(2.f, 1.f);
      }
    }
    for (int i = 0; i < threads_seen && i < 2; ++i) {
      CAPTURE(i);
      expect_equal("gemm inside omp parallel", want[i], got[i]);
    }
  }

  TEST_CASE_TEMPLATE("gemm_strided_batched matches per-matrix reference - with broadcast", T,
                     float, double) {
    // Small matrices take the one-product-per-thread path, large ones the sequential path
    // with a parallel gemm each. A stride of 0 broadcasts one A (or one B) to every C.
    const ThreadCount two(2);
    constexpr Shape kBatchShapes[] = {{7, 9, 5}, {33, 17, 40}, {170, 150, 180}};
    constexpr Scalars kBatchScalars[] = {{1, -0.5}, {2, 0}};
    const int64_t batch = 3, pad = 2;
    for (const Transposes t : kAllTransposes)
      for (const Shape s : kBatchShapes)
        for (const Scalars sc : kBatchScalars)
          for (int broadcast = 0; broadcast < 3; ++broadcast) {  // none, A, B
            if (s.m * s.n * s.k > 1000000 && t.a != t.b) continue;  // keep the test quick
            CAPTURE(t.a);
            CAPTURE(t.b);
            CAPTURE(s.m);
            CAPTURE(s.n);
            CAPTURE(s.k);
            CAPTURE(sc.beta);
            CAPTURE(broadcast);
            const T alpha = T(sc.alpha), beta = T(sc.beta);
            // Batch item i of each operand is the whole of Problem i, so each stride is
            // one Problem's storage size (or 0 for the broadcast operand).
            std::vector<Problem<T>> items;
            for (int64_t i = 0; i < batch; ++i)
              items.emplace_back(t, s, pad, Fill::small_integers, sc.beta == 0, 40 + i);
            for (Problem<T>& item : items) {
              if (broadcast == 1) item.a = items[0].a;
              if (broadcast == 2) item.b = items[0].b;
            }
            std::vector<T> a, b, c, want;
            for (const Problem<T>& item : items) {
              a.insert(a.end(), item.a.begin(), item.a.end());
              b.insert(b.end(), item.b.begin(), item.b.end());
              c.insert(c.end(), item.c.begin(), item.c.end());
              const std::vector<T> ref = item.reference(alpha, beta);
              want.insert(want.end(), ref.begin(), ref.end());
            }
            const Problem<T>& first = items[0];
            const int64_t stride_a = broadcast == 1 ? 0 : int64_t(first.a.size());
            const int64_t stride_b = broadcast == 2 ? 0 : int64_t(first.b.size());
            gemm_strided_batched<T>(t.a, t.b, s.m, s.n, s.k, alpha, a.data(), first.lda,
                                    stride_a, b.data(), first.ldb, stride_b, beta, c.data(),
                                    first.ldc, int64_t(first.c.size()), batch);
            expect_equal("batched vs reference", want, c);
          }
  }

  TEST_CASE("the measured FMA peak of one thread is a rate one core can reach") {
    // At most two FMA ports × the vector width × 2 FLOPs × 6 GHz: a miscounted rate (FLOPs
    // per iteration, threads) lands far outside; at least 1 GFLOP/s on any machine we run.
    const int width = std::string(hqlt::gemm::kernel_name()) == "avx512" ? 16 : 8;
    const double peak = hqlt::gemm::measure_fma_peak_gflops(1, 0.02);
    CHECK(peak > 1.0);
    CHECK(peak < 2.0 * width * 2.0 * 6.0);
  }

  TEST_CASE("gemm kernel name is one of the three builds") {
    const std::string name = hqlt::gemm::kernel_name();
    CHECK((name == "avx512" || name == "avx2" || name == "portable"));
  }
}
