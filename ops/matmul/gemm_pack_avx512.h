#pragma once
// AVX-512 helpers for packing.
//
// In-register transposes of one square block of W x W values (W = lanes of a zmm register:
// 16 floats or 8 doubles), used by the packing of the operands that arrive "the wrong
// way round" (A not transposed, B transposed). Scalar packing of those operands moves one
// value per instruction with a strided store; on the weight-gradient shape
// (m = n = 128, k = 10240) packing then costs as much as the multiply itself. Loading W rows
// and shuffling them costs about 3 shuffles per output vector instead.
//
// AVX-512 only; the other builds pack with scalar loops.
#if defined(__AVX512F__)
#include <immintrin.h>

#include <cstdint>

// GCC 12 reports its own _mm512_undefined_* placeholders inside the shuffle intrinsics
// as "may be used uninitialized" (GCC bug 105593, fixed in GCC 13); silence that here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace hqlt::gemm::detail {

// Loads rows [0, rows) of a W x W block (row stride ld, rows >= 1), zero rows after them,
// and returns its transpose: cols[j] lane i = src[i * ld + j].
inline void load_transposed(const float* src, int64_t ld, int rows, __m512 cols[16]) {
  __m512 r[16], t[16], u[16];
  for (int i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_loadu_ps(src + i * ld) : _mm512_setzero_ps();
  // Within each 128-bit lane (4 columns): interleave pairs of rows ...
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // ... then pairs of pairs: u[4g + c] lane L = column 4L + c of rows 4g .. 4g + 3.
  for (int g = 0; g < 4; ++g) {
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  // Finally gather lane L of the four row groups into column 4L + c (two lane shuffles).
  for (int c = 0; c < 4; ++c) {
    const __m512 even01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);  // lanes 0, 2
    const __m512 odd01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);   // lanes 1, 3
    const __m512 even23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 odd23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    cols[c] = _mm512_shuffle_f32x4(even01, even23, 0x88);
    cols[8 + c] = _mm512_shuffle_f32x4(even01, even23, 0xDD);
    cols[4 + c] = _mm512_shuffle_f32x4(odd01, odd23, 0x88);
    cols[12 + c] = _mm512_shuffle_f32x4(odd01, odd23, 0xDD);
  }
}

inline void load_transposed(const double* src, int64_t ld, int rows, __m512d cols[8]) {
  __m512d r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm512_loadu_pd(src + i * ld) : _mm512_setzero_pd();
  // t[2g + c] lane L = column 2L + c of rows 2g, 2g + 1.
  for (int g = 0; g < 4; ++g) {
    t[2 * g] = _mm512_unpacklo_pd(r[2 * g], r[2 * g + 1]);
    t[2 * g + 1] = _mm512_unpackhi_pd(r[2 * g], r[2 * g + 1]);
  }
  for (int c = 0; c < 2; ++c) {
    const __m512d even01 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x88);
    const __m512d odd01 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xDD);
    const __m512d even23 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x88);
    const __m512d odd23 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xDD);
    cols[c] = _mm512_shuffle_f64x2(even01, even23, 0x88);
    cols[4 + c] = _mm512_shuffle_f64x2(even01, even23, 0xDD);
    cols[2 + c] = _mm512_shuffle_f64x2(odd01, odd23, 0x88);
    cols[6 + c] = _mm512_shuffle_f64x2(odd01, odd23, 0xDD);
  }
}

// Stores the first `count` lanes of v.
inline void store_first(float* dst, __m512 v, int count) {
  _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1u << count) - 1), v);
}
inline void store_first(double* dst, __m512d v, int count) {
  _mm512_mask_storeu_pd(dst, static_cast<__mmask8>((1u << count) - 1), v);
}

// Copies src[0, count) to dst[0, count) and zeros dst[count, N): one row of a packed
// panel, with masked loads so that nothing past the end of the source is read.
template <int N>
inline void copy_padded(const float* src, int count, float* dst) {
  for (int i = 0; i < N; i += 16) {
    const int lanes = count - i < 0 ? 0 : (count - i > 16 ? 16 : count - i);
    const __m512 v = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << lanes) - 1), src + i);
    store_first(dst + i, v, N - i < 16 ? N - i : 16);
  }
}
template <int N>
inline void copy_padded(const double* src, int count, double* dst) {
  for (int i = 0; i < N; i += 8) {
    const int lanes = count - i < 0 ? 0 : (count - i > 8 ? 8 : count - i);
    const __m512d v = _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << lanes) - 1), src + i);
    store_first(dst + i, v, N - i < 8 ? N - i : 8);
  }
}

}  // namespace hqlt::gemm::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
