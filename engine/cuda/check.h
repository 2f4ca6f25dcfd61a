#pragma once
// Error wrapping for every CUDA runtime and cuBLAS call: a failing call becomes one
// hqlt::Error naming the call (as written), where it was made, and the library's own
// name and message for the status, e.g.
//   cuda: cudaMalloc(&p, bytes) failed (engine/cuda/runtime.cpp:40): cudaErrorMemoryAllocation: out of memory
// Include only where the build has CUDA (engine/cuda/, the .cu files, or behind
// HQLT_HAS_CUDA): it pulls in the CUDA headers.
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace hqlt::cuda {

// Throw hqlt::Error unless status is success; `call` is the call's source text.
void check_cuda(cudaError_t status, const char* call, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* call, const char* file, int line);

}  // namespace hqlt::cuda

#define HQLT_CUDA_CHECK(call) ::hqlt::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define HQLT_CUBLAS_CHECK(call) ::hqlt::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After a kernel launch: launch-configuration errors surface here, not at the next call.
#define HQLT_CUDA_CHECK_LAUNCH(kernel_name) \
  ::hqlt::cuda::check_cuda(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
