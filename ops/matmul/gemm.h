#pragma once
// Our own CPU GEMM: packed, blocked, with a vectorised micro-kernel (AVX-512 where the
// compiler may use it, AVX2 otherwise, portable C++ as a last resort) and OpenMP.
//
//   C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n]
//
// Row-major storage. op(A) = A when !trans_a (A stored [m, k], row stride lda),
// op(A) = Aᵀ when trans_a (A stored [k, m], row stride lda); likewise for B.
// beta == 0 means C is written without being read (it may hold garbage or NaN).
// Called from inside an OpenMP parallel region it runs on the calling thread only
// (no nested parallelism); otherwise it uses omp_get_max_threads() threads.
#include <cstdint>

namespace hqlt::gemm {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Columns [j0, j0 + width) of the m × n product above, to the bit as gemm computes them for
// all n columns (it takes the path gemm would take for the whole product; every path's
// element is a sum whose order does not depend on the other columns). On the calling thread
// only. For kernels that share one product's columns among threads (ops/delta_rule).
template <typename T>
void gemm_columns(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t j0, int64_t width, int64_t k, T alpha,
                  const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// `batch` independent products; matrix i of A starts at a + i * stride_a (same for B, C).
// A stride of 0 broadcasts one matrix over the batch (never for C).
template <typename T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                          T alpha, const T* a, int64_t lda, int64_t stride_a, const T* b,
                          int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
                          int64_t stride_c, int64_t batch);

// The plain triple loop, for tests and as the readable statement of the contract.
template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                    const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
                    int64_t ldc);

// Which micro-kernel this build uses: "avx512", "avx2" or "portable".
const char* kernel_name();

}  // namespace hqlt::gemm
