#pragma once
// The GEMM micro-kernel and the blocking sizes around it.
//
// The micro-kernel owns an MR x NR tile of C held entirely in vector registers
// (NR = NV vectors of Simd<T>::width lanes). Per step p of the shared dimension it loads
// NV vectors of packed B (row p of the tile's columns), broadcasts each of the MR packed
// A values of column p, and issues MR * NV fused multiply-adds. Nothing but those loads
// touches memory inside the loop; C is read and written once per call.
#include <cmath>
#include <cstdint>

#include "ops/matmul/gemm_simd.h"

namespace hqlt::gemm::detail {

// Register tile and cache blocking for one element type on the ISA this build targets.
//
//   mr, nv  the register tile: mr * nv accumulators + nv B vectors + 1 broadcast must fit
//           the register file, and mr * nv FMAs per step must hide the FMA latency
//           (latency 4 x 2 FMA ports = 8 independent chains at the very least).
//   kc      depth of one packed block: an A micro-panel (mr x kc) stays in the L1 cache
//           while the kernel sweeps it across every B micro-panel of the block.
//   mc      height of one packed A block (a multiple of mr): packing a block rather than
//           one micro-panel reads a transposed A along rows of mc values, not mr.
//   nc      width of one packed B block (kc x nc): it stays in the per-core L2 cache while
//           every A micro-panel of the thread streams past it.
template <typename T>
struct Blocking;

#if defined(__AVX512F__)
// 32 zmm registers: 14 x 2 accumulators + 2 B vectors + 1 broadcast = 31.
// L1d 48 KiB, L2 2 MiB per core: A micro-panel 14*384*4 B = 21 KiB; B block 384*640*4 B
// = 960 KiB.
template <>
struct Blocking<float> {
  static constexpr int mr = 14, nv = 2, kc = 384, mc = 168, nc = 640;
};
template <>
struct Blocking<double> {
  static constexpr int mr = 14, nv = 2, kc = 192, mc = 168, nc = 640;
};
#elif defined(__AVX2__) && defined(__FMA__)
// 16 ymm registers: 6 x 2 accumulators + 2 B vectors + 1 broadcast = 15.
template <>
struct Blocking<float> {
  static constexpr int mr = 6, nv = 2, kc = 256, mc = 96, nc = 512;
};
template <>
struct Blocking<double> {
  static constexpr int mr = 6, nv = 2, kc = 128, mc = 96, nc = 512;
};
#else
template <typename T>
struct Blocking {
  static constexpr int mr = 4, nv = 2, kc = 256, mc = 64, nc = 512;
};
#endif

template <typename T>
inline constexpr int kMR = Blocking<T>::mr;
template <typename T>
inline constexpr int kNR = Blocking<T>::nv * Simd<T>::width;
template <typename T>
inline constexpr int kKC = Blocking<T>::kc;
template <typename T>
inline constexpr int kMC = Blocking<T>::mc;
template <typename T>
inline constexpr int kNC = Blocking<T>::nc;

static_assert(kNC<float> % kNR<float> == 0 && kNC<double> % kNR<double> == 0,
              "a B block must hold whole micro-panels");
static_assert(kMC<float> % kMR<float> == 0 && kMC<double> % kMR<double> == 0,
              "an A block must hold whole micro-panels");

// C[0:rows, 0:cols] = alpha * (packed A micro-panel) * (packed B micro-panel) + beta * C.
//
//   a_panel  [kc][MR]  packed A, zero-padded below `rows`
//   b_panel  [kc][NR]  packed B, zero-padded right of `cols`, 64-byte aligned
//   c        [rows][cols] with row stride ldc; not read when beta == 0
//
// A full tile is written straight from the registers. An edge tile (rows < MR or
// cols < NR) goes through a small buffer so that nothing outside C is touched.
template <typename T>
inline void micro_kernel(int64_t kc, const T* __restrict a_panel, const T* __restrict b_panel,
                         T* __restrict c, int64_t ldc, int rows, int cols, T alpha, T beta) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int MR = kMR<T>, NV = Blocking<T>::nv, W = S::width, NR = kNR<T>;

  // C is touched only after the loop; ask for its lines now so that they arrive while
  // the loop runs. When C is larger than the caches (and every K block re-reads it), the
  // misses would otherwise stall the kernel at the end of every call.
  for (int r = 0; r < rows; ++r) {
    __builtin_prefetch(c + r * ldc, 1, 3);
    __builtin_prefetch(c + r * ldc + NR - 1, 1, 3);
  }

  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();

  for (int64_t p = 0; p < kc; ++p) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = S::load(b_panel + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const V a = S::broadcast(a_panel + r);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(a, b[v], acc[r][v]);
    }
    a_panel += MR;
    b_panel += NR;
  }

  const V valpha = S::set1(alpha);
  if (rows == MR && cols == NR) {
    if (beta == T(0)) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) S::storeu(c + r * ldc + v * W, S::mul(valpha, acc[r][v]));
    } else {
      const V vbeta = S::set1(beta);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          T* dst = c + r * ldc + v * W;
          S::storeu(dst, S::fmadd(vbeta, S::loadu(dst), S::mul(valpha, acc[r][v])));
        }
    }
    return;
  }

  alignas(64) T tile[MR * NR];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) S::storeu(tile + r * NR + v * W, acc[r][v]);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) {
      T& dst = c[r * ldc + j];
      // The full tile's roundings (alpha·acc, then one fused beta·C + that), spelled out
      // so that the compiler cannot fuse the other product instead.
      dst = beta == T(0) ? alpha * tile[r * NR + j] : std::fma(beta, dst, alpha * tile[r * NR + j]);
    }
}

}  // namespace hqlt::gemm::detail
