// hqlt::gemm entry points: trivial cases, a direct path for tiny products, one row without
// packing (decoding), the split of one product over OpenMP threads, and the strided batch.
// The blocked single-thread algorithm is in gemm_blocked.h, the micro-kernel in
// gemm_kernel.h.
#include "ops/matmul/gemm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "ops/matmul/gemm_blocked.h"

namespace hqlt::gemm {
namespace {

using detail::gemm_blocked;
using detail::kMR;
using detail::kNR;

// Below this many multiply-adds, packing costs more than it saves (~32^3).
constexpr int64_t kDirectLimit = 32 * 32 * 32;
// Below this many multiply-adds, waking a second thread costs more than it saves.
constexpr int64_t kParallelLimit = 64 * 64 * 64;
// A batch of products each smaller than this runs one product per thread.
constexpr int64_t kBatchPerThreadLimit = 256 * 256 * 64;

// C = beta * C, with beta == 0 writing zeros without reading C.
template <typename T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0))
      std::fill(row, row + n, T(0));
    else if (beta != T(1))
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
}

// Tiny products: no packing, loops ordered so the innermost one is unit-stride where the
// layout allows (a row of B when it is stored [k, n], a dot product along k otherwise).
template <typename T>
void gemm_direct(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                 const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
                 int64_t ldc) {
  const auto a_at = [&](int64_t i, int64_t p) { return trans_a ? a[p * lda + i] : a[i * lda + p]; };
  for (int64_t i = 0; i < m; ++i) {
    T* c_row = c + i * ldc;
    if (trans_b) {
      for (int64_t j = 0; j < n; ++j) {
        const T* b_row = b + j * ldb;
        T sum = 0;
        for (int64_t p = 0; p < k; ++p) sum += a_at(i, p) * b_row[p];
        c_row[j] = beta == T(0) ? alpha * sum : alpha * sum + beta * c_row[j];
      }
    } else {
      scale_c<T>(1, n, beta, c_row, ldc);
      for (int64_t p = 0; p < k; ++p) {
        const T scaled = alpha * a_at(i, p);
        const T* b_row = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) c_row[j] += scaled * b_row[j];
      }
    }
  }
}

// One row of op(A) (m = 1: decoding one token), alpha = 1, beta 0 or 1: C[1, n] (+)= a · op(B)
// without packing B, and with the blocked path's sums to the bit. That path, for a row,
// sums k in steps of kc_step, each step an FMA chain from zero per element, and adds the
// steps in order (the first into beta·C); with alpha = 1 and beta ∈ {0, 1} its scalings are
// exact, so this loop, which sums in that order, gives the same numbers (tests/ops/
// test_gemm.cpp checks it). The blocked path would run its 14-row register tile on one row
// and pack all of B for it: most of a decoding step's time.
template <typename T>
void gemm_one_row(bool trans_a, bool trans_b, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
                  int64_t ldb, T beta, T* c) {
  using S = detail::Simd<T>;
  constexpr int W = S::width;
  const auto a_at = [&](int64_t p) { return trans_a ? a[p * lda] : a[p]; };
  const auto b_at = [&](int64_t p, int64_t j) { return trans_b ? b[j * ldb + p] : b[p * ldb + j]; };
  const int64_t kc_step = detail::even_step(k, detail::kKC<T>, 1);
  for (int64_t pc = 0; pc < k; pc += kc_step) {
    const int64_t kc = std::min(kc_step, k - pc);
    const bool first = pc == 0 && beta == T(0);  // C is written, not added to
    int64_t j = 0;
    if (!trans_b) {
      // B is [k, n] by rows: W columns at a time, one vector chain each.
      for (; j + W <= n; j += W) {
        typename S::V acc = S::zero();
        for (int64_t p = pc; p < pc + kc; ++p) acc = S::fmadd(S::set1(a_at(p)), S::loadu(b + p * ldb + j), acc);
        alignas(64) T sum[W];
        S::storeu(sum, acc);
        for (int l = 0; l < W; ++l) c[j + l] = first ? sum[l] : sum[l] + c[j + l];
      }
    } else {
      // op(B)'s column j is row j of B: eight columns at a time, eight independent chains.
      constexpr int G = 8;
      for (; j + G <= n; j += G) {
        T acc[G] = {};
        for (int64_t p = pc; p < pc + kc; ++p) {
          const T x = a_at(p);
          for (int g = 0; g < G; ++g) acc[g] = detail::fmadd_lane(x, b[(j + g) * ldb + p], acc[g]);
        }
        for (int g = 0; g < G; ++g) c[j + g] = first ? acc[g] : acc[g] + c[j + g];
      }
    }
    // The last columns, one chain each.
    for (; j < n; ++j) {
      T acc = 0;
      for (int64_t p = pc; p < pc + kc; ++p) acc = detail::fmadd_lane(a_at(p), b_at(p, j), acc);
      c[j] = first ? acc : acc + c[j];
    }
  }
}

// How one product is shared between threads. Every thread runs gemm_blocked on its own
// slice with its own packing buffers, so no thread waits for another until the end.
//   rows     slices of m: each thread re-packs all of op(B)  (extra work ~ k * n)
//   columns  slices of n: each thread re-packs all of op(A)  (extra work ~ m * k)
//   depth    K blocks: each thread writes a partial C per block, added to C in block
//            order (extra work ~ m * n per block); this keeps both cores busy on the
//            weight-gradient shape m = n = 128, k = 10240, where m and n are too small.
// Every split gives the one-thread result to the bit (each element's sum keeps its order).
enum class SplitAxis { none, rows, columns, depth };

struct Split {
  SplitAxis axis = SplitAxis::none;
  int ways = 1;
};

template <typename T>
Split choose_split(int64_t m, int64_t n, int64_t k, int threads) {
  if (threads < 2 || m * n * k < kParallelLimit) return {};
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  // A slice must hold a few register tiles (or 128 steps of k) to be worth a thread.
  const auto ways_for = [&](int64_t extent, int64_t grain) {
    return static_cast<int>(std::min<int64_t>(threads, extent / grain));
  };
  const int rows_ways = ways_for(m, 2 * kMR<T>);
  const int cols_ways = ways_for(n, 2 * kNR<T>);
  // The depth split hands out whole K blocks (gemm_depth_split).
  const int depth_ways = ways_for(k, detail::even_step(k, detail::kKC<T>, 1));
  const int64_t rows_cost = rows_ways >= threads ? k * n : kNever;
  const int64_t cols_cost = cols_ways >= threads ? m * k : kNever;
  const int64_t depth_cost = depth_ways >= threads ? 2 * m * n : kNever;
  if (rows_cost <= cols_cost && rows_cost <= depth_cost && rows_cost != kNever)
    return {SplitAxis::rows, threads};
  if (cols_cost <= depth_cost && cols_cost != kNever) return {SplitAxis::columns, threads};
  if (depth_cost != kNever) return {SplitAxis::depth, threads};
  // Too small along every axis for all threads: use as many as the best axis allows.
  const int best = std::max({rows_ways, cols_ways, depth_ways});
  if (best < 2) return {};
  if (best == rows_ways) return {SplitAxis::rows, best};
  if (best == cols_ways) return {SplitAxis::columns, best};
  return {SplitAxis::depth, best};
}

// [begin, end) of slice `part` of `parts` over `extent`, cut at multiples of `quantum` so
// that no slice creates an extra partial register tile.
struct Range {
  int64_t begin, end;
};
inline Range slice(int64_t extent, int part, int parts, int64_t quantum) {
  const int64_t chunk = ((extent + parts - 1) / parts + quantum - 1) / quantum * quantum;
  const int64_t begin = std::min(extent, part * chunk);
  return {begin, std::min(extent, begin + chunk)};
}

// Partial products of a depth split live here: one [m, n] matrix per thread.
detail::ScratchBuffer& partials_scratch() {
  thread_local detail::ScratchBuffer buffer;
  return buffer;
}

// The rows and columns splits: each thread runs gemm_blocked on its slice of C.
template <typename T>
void gemm_parallel(Split split, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                   T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
                   int64_t ldc) {
#pragma omp parallel num_threads(split.ways)
  {
    const int part = omp_get_thread_num();
    const int parts = omp_get_num_threads();  // may be fewer than asked for
    if (split.axis == SplitAxis::rows) {
      const Range r = slice(m, part, parts, kMR<T>);
      if (r.begin < r.end)
        gemm_blocked(trans_a, trans_b, r.end - r.begin, n, k, alpha,
                     trans_a ? a + r.begin : a + r.begin * lda, lda, b, ldb, beta,
                     c + r.begin * ldc, ldc);
    } else if (split.axis == SplitAxis::columns) {
      const Range r = slice(n, part, parts, kNR<T>);
      if (r.begin < r.end)
        gemm_blocked(trans_a, trans_b, m, r.end - r.begin, k, alpha, a, lda,
                     trans_b ? b + r.begin * ldb : b + r.begin, ldb, beta, c + r.begin, ldc);
    }
  }
}

// The depth split, with gemm_blocked's result to the bit whatever the thread count. k is
// cut into the K blocks gemm_blocked itself uses (kc_step), and gemm_blocked adds them to C
// one after another: C = beta·C + alpha·(block 0), then C += alpha·(block b). Here the
// threads compute whole blocks, alpha·(block b) each into a partial of its own, in waves
// of one block per thread; after each wave the partials are added to C in block order. So
// every element sees the same roundings in the same order as on one thread, and a run
// does not change with --threads.
template <typename T>
void gemm_depth_split(int ways, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                      const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const int64_t kc_step = detail::even_step(k, detail::kKC<T>, 1);
  const int64_t blocks = (k + kc_step - 1) / kc_step;
  T* partials = partials_scratch().get<T>(ways * m * n);
#pragma omp parallel num_threads(ways)
  {
    const int part = omp_get_thread_num();
    const int parts = omp_get_num_threads();  // may be fewer than asked for
    for (int64_t wave = 0; wave < blocks; wave += parts) {
      const int64_t block = wave + part;
      if (block < blocks) {
        const int64_t pc = block * kc_step, kc = std::min(kc_step, k - pc);
        const T* a_part = trans_a ? a + pc * lda : a + pc;
        const T* b_part = trans_b ? b + pc : b + pc * ldb;
        gemm_blocked(trans_a, trans_b, m, n, kc, alpha, a_part, lda, b_part, ldb, T(0),
                     partials + part * m * n, n);
      }
#pragma omp barrier
      const int64_t in_wave = std::min<int64_t>(parts, blocks - wave);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < m; ++i) {
        T* c_row = c + i * ldc;
        for (int64_t q = 0; q < in_wave; ++q) {
          const T* p_row = partials + q * m * n + i * n;
          if (wave + q > 0)
            for (int64_t j = 0; j < n; ++j) c_row[j] += p_row[j];
          else if (beta == T(0))
            std::copy(p_row, p_row + n, c_row);
          else  // the micro-kernel's first write: beta·C + alpha·(block 0), one rounding
            for (int64_t j = 0; j < n; ++j) c_row[j] = std::fma(beta, c_row[j], p_row[j]);
        }
      }  // (implicit barrier: the partials are free for the next wave)
    }
  }
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == T(0)) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  if (m * n * k < kDirectLimit) {
    gemm_direct(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const Split split = choose_split<T>(m, n, k, threads);
  if (m == 1 && alpha == T(1) && (beta == T(0) || beta == T(1)) && split.axis == SplitAxis::none) {
    gemm_one_row(trans_a, trans_b, n, k, a, lda, b, ldb, beta, c);
    return;
  }
  if (split.axis == SplitAxis::none)
    gemm_blocked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else if (split.axis == SplitAxis::depth)
    gemm_depth_split(split.ways, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    gemm_parallel(split, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
void gemm_columns(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t j0, int64_t width, int64_t k, T alpha,
                  const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || width <= 0) return;
  const T* b_cols = trans_b ? b + j0 * ldb : b + j0;
  T* c_cols = c + j0;
  if (k <= 0 || alpha == T(0)) {
    scale_c(m, width, beta, c_cols, ldc);
    return;
  }
  // gemm's choice for the whole product (its thread splits and the one-row path give the
  // blocked path's bits, so only the direct path differs).
  if (m * n * k < kDirectLimit)
    gemm_direct(trans_a, trans_b, m, width, k, alpha, a, lda, b_cols, ldb, beta, c_cols, ldc);
  else
    gemm_blocked(trans_a, trans_b, m, width, k, alpha, a, lda, b_cols, ldb, beta, c_cols, ldc);
}

template <typename T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                          T alpha, const T* a, int64_t lda, int64_t stride_a, const T* b,
                          int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
                          int64_t stride_c, int64_t batch) {
  const auto one = [&](int64_t i) {
    gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb,
         beta, c + i * stride_c, ldc);
  };
  // Many small products: one whole product per thread (each gemm call then sees that it
  // is inside a parallel region and stays on its thread). Large ones: let each product
  // use every thread itself.
  // A batch whose total work is tiny (the references make thousands of such calls) stays
  // on the calling thread: waking the team would cost more than the products.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const bool worth_splitting = m * n * k * batch >= kParallelLimit;
  if (threads > 1 && worth_splitting && batch >= threads && m * n * k <= kBatchPerThreadLimit) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < batch; ++i) one(i);
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);
  }
}

const char* kernel_name() { return detail::kIsaName; }

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                           int64_t, const double*, int64_t, double, double*, int64_t);
template void gemm_columns<float>(bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, float, const float*,
                                  int64_t, const float*, int64_t, float, float*, int64_t);
template void gemm_columns<double>(bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, double, const double*,
                                   int64_t, const double*, int64_t, double, double*, int64_t);
template void gemm_strided_batched<float>(bool, bool, int64_t, int64_t, int64_t, float,
                                          const float*, int64_t, int64_t, const float*,
                                          int64_t, int64_t, float, float*, int64_t, int64_t,
                                          int64_t);
template void gemm_strided_batched<double>(bool, bool, int64_t, int64_t, int64_t, double,
                                           const double*, int64_t, int64_t, const double*,
                                           int64_t, int64_t, double, double*, int64_t,
                                           int64_t, int64_t);

}  // namespace hqlt::gemm
