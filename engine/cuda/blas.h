#pragma once
// cuBLAS for the plain GEMMs, on the engine's one (default) stream, through one handle
// created on first use. Declarations only: defined when the build has CUDA.
//
// TF32: off unless asked for. Ampere and later can run f32 GEMMs on tensor cores with a
// 10-bit mantissa (TF32), about 1e-3 relative error: fine for training, wrong for tests
// that compare against the CPU at 1e-5, so it is an explicit opt-in.
#include <cstdint>

namespace hqlt::cuda {

void set_allow_tf32(bool on);
bool allow_tf32();

// Row-major C = alpha · op(A) · op(B) + beta · C for `batch` matrices at a + i·stride_a,
// b + i·stride_b, c + i·stride_c (a stride of 0 reuses one matrix): the contract of
// gemm::gemm_strided_batched (ops/matmul/gemm.h), with device pointers. T = float, double.
template <typename T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                          int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c,
                          int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace hqlt::cuda
