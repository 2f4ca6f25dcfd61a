#pragma once
// The handful of vector operations the GEMM micro-kernel needs, for one vector register
// of T: zero, load, broadcast one scalar, fused multiply-add, scale, store.
//
// The ISA is chosen at compile time from what the compiler may use (HQLT_ARCH in CMakeLists.txt):
// AVX-512 (32 registers of 512 bits), AVX2 + FMA (16 registers of 256 bits), or a portable
// fixed-size array that the compiler may vectorise on its own. The micro-kernel is written
// once against this interface; only the register-tile shape (gemm_kernel.h) changes.
#include <cmath>
#include <cstdint>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace hqlt::gemm::detail {

template <typename T>
struct Simd;

#if defined(__AVX512F__)

inline constexpr const char* kIsaName = "avx512";

template <>
struct Simd<float> {
  using V = __m512;
  static constexpr int width = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_load_ps(p); }  // 64-byte aligned
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, V v) { _mm512_store_ps(p, v); }  // 64-byte aligned
};

template <>
struct Simd<double> {
  using V = __m512d;
  static constexpr int width = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_load_pd(p); }
  static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static V broadcast(const double* p) { return _mm512_set1_pd(*p); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  static void store(double* p, V v) { _mm512_store_pd(p, v); }
};

#elif defined(__AVX2__) && defined(__FMA__)

inline constexpr const char* kIsaName = "avx2";

template <>
struct Simd<float> {
  using V = __m256;
  static constexpr int width = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_load_ps(p); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
};

template <>
struct Simd<double> {
  using V = __m256d;
  static constexpr int width = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_load_pd(p); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static V broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
};

#else

inline constexpr const char* kIsaName = "portable";

// Four lanes of plain C++: small enough that the compiler can keep a tile in registers
// (or SSE registers, which every x86-64 has) and vectorise the lane loops.
template <typename T>
struct Simd {
  struct V {
    T lane[4];
  };
  static constexpr int width = 4;
  static V zero() { return V{{0, 0, 0, 0}}; }
  static V load(const T* p) { return V{{p[0], p[1], p[2], p[3]}}; }
  static V loadu(const T* p) { return load(p); }
  static V broadcast(const T* p) { return V{{*p, *p, *p, *p}}; }
  static V set1(T x) { return V{{x, x, x, x}}; }
  static V fmadd(V a, V b, V c) {
    for (int i = 0; i < 4; ++i) c.lane[i] += a.lane[i] * b.lane[i];
    return c;
  }
  static V mul(V a, V b) {
    for (int i = 0; i < 4; ++i) a.lane[i] *= b.lane[i];
    return a;
  }
  static void storeu(T* p, V v) {
    for (int i = 0; i < 4; ++i) p[i] = v.lane[i];
  }
};

#endif

// One lane of Simd<T>::fmadd: a fused multiply-add where the vector one is fused, the
// plain c + a·b of the portable lanes otherwise, so that a scalar loop reproduces a
// vector lane's sums to the bit.
template <typename T>
inline T fmadd_lane(T a, T b, T c) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
  return std::fma(a, b, c);
#else
  return c + a * b;
#endif
}

}  // namespace hqlt::gemm::detail
