#include "engine/cuda/check.h"

#include "engine/error.h"

namespace hqlt::cuda {

void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  // A failed call may leave the error sticky for the next unrelated call; read it off so
  // the next failure reports its own cause (a launch failure stays: the context is gone).
  cudaGetLastError();
  fail("cuda: ", call, " failed (", file, ":", line, "): ", cudaGetErrorName(status), ": ",
       cudaGetErrorString(status));
}

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail("cublas: ", call, " failed (", file, ":", line, "): ", cublasGetStatusName(status), ": ",
       cublasGetStatusString(status));
}

}  // namespace hqlt::cuda
