#include "engine/cuda/blas.h"

#include <atomic>
#include <climits>
#include <mutex>
#include <type_traits>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace hqlt::cuda {
namespace {

std::atomic<bool> g_allow_tf32{false};

// One handle for the process, never destroyed: destroying it from a static destructor
// after the driver has shut down fails, and the driver frees it at exit anyway.
cublasHandle_t handle() {
  static std::once_flag once;
  static cublasHandle_t h = nullptr;
  std::call_once(once, [] {
    require_device();
    HQLT_CUBLAS_CHECK(cublasCreate(&h));
  });
  HQLT_CUBLAS_CHECK(cublasSetMathMode(h, g_allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return h;
}

int as_int(int64_t v, const char* what) {
  HQLT_CHECK(v >= 0 && v <= INT_MAX, "matmul (cublas): ", what, " = ", v, " does not fit cuBLAS's 32-bit int");
  return int(v);
}

cublasOperation_t op_of(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

void set_allow_tf32(bool on) { g_allow_tf32 = on; }
bool allow_tf32() { return g_allow_tf32; }

template <typename T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                          int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c,
                          int64_t ldc, int64_t stride_c, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  if (k == 0) {
    // cuBLAS returns at once for k = 0 without scaling C on some versions; the contract
    // says C = beta · C, and every caller here passes beta = 0.
    HQLT_CHECK(beta == T(0), "matmul (cublas): k = 0 is supported with beta = 0 only");
    for (int64_t i = 0; i < batch; ++i)
      HQLT_CUDA_CHECK(cudaMemset2D(c + i * stride_c, size_t(ldc) * sizeof(T), 0, size_t(n) * sizeof(T), size_t(m)));
    return;
  }
  // cuBLAS is column-major. A row-major matrix read column-major is its transpose, so the
  // row-major C = op(A) op(B) is the column-major Cᵀ = op(B)ᵀ op(A)ᵀ: pass B first, A
  // second, swap m and n, and keep each operand's own transpose flag.
  const int mi = as_int(m, "m"), ni = as_int(n, "n"), ki = as_int(k, "k");
  const int lda_i = as_int(lda, "lda"), ldb_i = as_int(ldb, "ldb"), ldc_i = as_int(ldc, "ldc");
  const int count = as_int(batch, "batch");
  cublasHandle_t h = handle();
  if constexpr (std::is_same_v<T, float>) {
    HQLT_CUBLAS_CHECK(cublasSgemmStridedBatched(h, op_of(trans_b), op_of(trans_a), ni, mi, ki, &alpha, b, ldb_i,
                                                stride_b, a, lda_i, stride_a, &beta, c, ldc_i, stride_c, count));
  } else {
    HQLT_CUBLAS_CHECK(cublasDgemmStridedBatched(h, op_of(trans_b), op_of(trans_a), ni, mi, ki, &alpha, b, ldb_i,
                                                stride_b, a, lda_i, stride_a, &beta, c, ldc_i, stride_c, count));
  }
}

template void gemm_strided_batched<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                          int64_t, const float*, int64_t, int64_t, float, float*, int64_t, int64_t,
                                          int64_t);
template void gemm_strided_batched<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                           int64_t, const double*, int64_t, int64_t, double, double*, int64_t,
                                           int64_t, int64_t);

}  // namespace hqlt::cuda
