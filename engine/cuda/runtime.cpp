#include "engine/cuda/runtime.h"

#include "engine/cuda/check.h"
#include "engine/error.h"

namespace hqlt::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

void require_device() {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();
    fail("no CUDA GPU is available: ", status == cudaSuccess ? "the driver reports 0 devices"
                                                            : cudaGetErrorString(status),
         " (this hqlt was built with CUDA; use --device cpu)");
  }
}

void* device_malloc(size_t bytes) {
  require_device();
  void* p = nullptr;
  HQLT_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void device_free(void* ptr) { HQLT_CUDA_CHECK(cudaFree(ptr)); }

void memcpy_host_to_device(void* dst, const void* src, size_t bytes) {
  HQLT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void memcpy_device_to_host(void* dst, const void* src, size_t bytes) {
  HQLT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void memcpy_device_to_device(void* dst, const void* src, size_t bytes) {
  HQLT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
void memset_device(void* dst, int byte, size_t bytes) { HQLT_CUDA_CHECK(cudaMemset(dst, byte, bytes)); }
void synchronize() { HQLT_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace hqlt::cuda
