#include "cuda/runtime.h"

#include <cuda_runtime.h>

#include "engine/error.h"

namespace hqlt::cuda {
namespace {

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    fail("cuda: ", call, " failed: ", cudaGetErrorName(status), ": ", cudaGetErrorString(status));
}

}  // namespace

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
  check(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}

void device_free(void* ptr) { check(cudaFree(ptr), "cudaFree"); }

void memcpy_host_to_device(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (host to device)");
}
void memcpy_device_to_host(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (device to host)");
}
void memcpy_device_to_device(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy (device to device)");
}
void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace hqlt::cuda
