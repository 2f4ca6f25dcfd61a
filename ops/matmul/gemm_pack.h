#pragma once
// Packing: copy a block of op(A) or op(B) into the exact order the micro-kernel reads it.
//
// Why pack at all: the micro-kernel then reads both operands as two unit-stride streams
// from aligned memory, whatever the caller's leading dimensions and transpose flags were.
// The transpose is paid once here, O(k * (m + n)) work, instead of in the O(m * n * k)
// inner loop, and a packed block is small enough to stay in the cache level it was sized
// for (see Blocking in gemm_kernel.h). Partial panels are zero-padded, so the kernel never
// needs an edge case inside its loop.
#include <cstdint>

#include "ops/matmul/gemm_kernel.h"
#include "ops/matmul/gemm_pack_avx512.h"

namespace hqlt::gemm::detail {

// One A block: rows [0, rows) of op(A), columns [0, kc), cut into micro-panels of MR rows.
// Micro-panel q holds rows [q * MR, q * MR + MR) as [kc][MR]: dst[p * MR + r] = op(A)[r, p].
//   a     points at op(A)[0, 0] of the block; A stored [m, k] (or [k, m] when trans_a)
//   dst   ceil(rows / MR) panels of kc * MR values, zero-padded below `rows`
template <typename T>
inline void pack_a_block(bool trans_a, const T* a, int64_t lda, int64_t rows, int64_t kc,
                         T* __restrict dst) {
  constexpr int MR = kMR<T>;
  const int64_t panels = (rows + MR - 1) / MR;
  const auto panel_rows = [&](int64_t q) {
    return static_cast<int>(rows - q * MR < MR ? rows - q * MR : MR);
  };
  if (trans_a) {
    // op(A)[r, p] = a[p * lda + r]: step p of every panel comes from one stored row, so
    // walk the stored rows in order and read each along its whole length (the hardware
    // prefetcher follows that; a column strip of a wide A, one panel at a time, would
    // touch a new cache line per value).
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t q = 0; q < panels; ++q) {
        const T* src = a + p * lda + q * MR;
        T* out = dst + q * MR * kc + p * MR;
        const int valid = panel_rows(q);
#if defined(__AVX512F__)
        copy_padded<MR>(src, valid, out);
#else
        for (int r = 0; r < MR; ++r) out[r] = r < valid ? src[r] : T(0);
#endif
      }
    return;
  }
  // op(A)[r, p] = a[r * lda + p]: each panel is the transpose of an MR x kc block.
  for (int64_t q = 0; q < panels; ++q) {
    const T* src = a + q * MR * lda;
    T* panel = dst + q * MR * kc;
    const int valid = panel_rows(q);
    int64_t p0 = 0;
#if defined(__AVX512F__)
    // W x W blocks through registers: rows [rb, rb + W) become W steps of the panel.
    constexpr int W = Simd<T>::width;
    for (; p0 + W <= kc; p0 += W)
      for (int rb = 0; rb < MR; rb += W) {
        typename Simd<T>::V cols[W];
        const int block_rows = valid - rb < W ? valid - rb : W;
        const int lanes = MR - rb < W ? MR - rb : W;
        if (block_rows > 0)
          load_transposed(src + rb * lda + p0, lda, block_rows, cols);
        else
          for (auto& col : cols) col = Simd<T>::zero();
        for (int j = 0; j < W; ++j) store_first(panel + (p0 + j) * MR + rb, cols[j], lanes);
      }
#endif
    for (; p0 < kc; ++p0)
      for (int r = 0; r < MR; ++r) panel[p0 * MR + r] = r < valid ? src[r * lda + p0] : T(0);
  }
}

// One B block: rows [0, kc) of op(B), columns [0, cols), cut into micro-panels of NR
// columns. Micro-panel q holds columns [q * NR, q * NR + NR) as [kc][NR].
//   b     points at op(B)[0, 0] of the block; B stored [k, n] (or [n, k] when trans_b)
//   dst   ceil(cols / NR) panels of kc * NR values, zero-padded right of `cols`
template <typename T>
inline void pack_b_block(bool trans_b, const T* b, int64_t ldb, int64_t kc, int64_t cols,
                         T* __restrict dst) {
  constexpr int NR = kNR<T>;
  for (int64_t j0 = 0; j0 < cols; j0 += NR) {
    const int width = static_cast<int>(cols - j0 < NR ? cols - j0 : NR);
    T* panel = dst + j0 * kc;
    if (!trans_b) {
      // op(B)[p, j] = b[p * ldb + j]: each step p copies `width` contiguous values.
      for (int64_t p = 0; p < kc; ++p) {
        const T* src = b + p * ldb + j0;
        T* out = panel + p * NR;
#if defined(__AVX512F__)
        copy_padded<NR>(src, width, out);
#else
        int j = 0;
        for (; j < width; ++j) out[j] = src[j];
        for (; j < NR; ++j) out[j] = T(0);
#endif
      }
    } else {
      // op(B)[p, j] = b[j * ldb + p]: the panel is the transpose of a width x kc block.
      const T* src = b + j0 * ldb;
      int64_t p = 0;
#if defined(__AVX512F__)
      // W x W blocks through registers: W stored rows become W steps of the panel.
      constexpr int W = Simd<T>::width;
      for (; p + W <= kc; p += W)
        for (int jb = 0; jb < NR; jb += W) {
          typename Simd<T>::V cols[W];
          if (jb < width)
            load_transposed(src + jb * ldb + p, ldb, width - jb < W ? width - jb : W, cols);
          else
            for (auto& col : cols) col = Simd<T>::zero();
          for (int q = 0; q < W; ++q) Simd<T>::store(panel + (p + q) * NR + jb, cols[q]);
        }
#endif
      for (; p < kc; ++p)
        for (int j = 0; j < NR; ++j) panel[p * NR + j] = j < width ? src[j * ldb + p] : T(0);
    }
  }
}

}  // namespace hqlt::gemm::detail
