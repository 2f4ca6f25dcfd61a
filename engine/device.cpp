#include "engine/device.h"

#include "engine/error.h"

#ifdef HQLT_HAS_CUDA
#include "engine/cuda/runtime.h"
#endif

namespace hqlt {

bool cuda_built() {
#ifdef HQLT_HAS_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_available() {
#ifdef HQLT_HAS_CUDA
  return cuda::device_count() > 0;
#else
  return false;
#endif
}

void require_cuda() {
#ifdef HQLT_HAS_CUDA
  cuda::require_device();
#else
  fail("no CUDA GPU can be used: this hqlt was built without CUDA (configure with -DHQLT_CUDA=ON); use --device cpu");
#endif
}

void synchronize(Device device) {
#ifdef HQLT_HAS_CUDA
  if (device == Device::cuda) cuda::synchronize();
#endif
  (void)device;
}

}  // namespace hqlt
