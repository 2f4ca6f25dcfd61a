#pragma once
// The CUDA runtime, as the engine sees it: device memory and copies, with every CUDA
// error turned into hqlt::Error naming the call. Compiled only when the build has CUDA;
// a CUDA build on a machine without a GPU fails here with a clear message when a GPU is
// first asked for, and runs the CPU engine as usual otherwise.
#include <cstddef>

namespace hqlt::cuda {

// How many GPUs the driver reports; 0 when there is none or no driver.
int device_count();
// Throws hqlt::Error ("no CUDA GPU is available: ...") unless a GPU can be used.
void require_device();

void* device_malloc(size_t bytes);
void device_free(void* ptr);
void memcpy_host_to_device(void* dst, const void* src, size_t bytes);
void memcpy_device_to_host(void* dst, const void* src, size_t bytes);
void memcpy_device_to_device(void* dst, const void* src, size_t bytes);
void memset_device(void* dst, int byte, size_t bytes);
void synchronize();

}  // namespace hqlt::cuda
