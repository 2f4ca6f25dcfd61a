#include "train/device_option.h"

#include "engine/device.h"
#include "engine/error.h"

namespace hqlt::train {

Device parse_device(const std::string& name, const char* command) {
  HQLT_CHECK(name == "cpu" || name == "cuda", command, ": option --device expects cpu or cuda, got '", name, "'");
  return name == "cpu" ? Device::cpu : Device::cuda;
}

void require_device(Device device, const char* command) {
  if (device != Device::cuda) return;
  if (!cuda_built())
    fail(command,
         ": --device cuda: this hqlt was built without CUDA (configure with -DHQLT_CUDA=ON); use --device cpu");
  require_cuda();
}

}  // namespace hqlt::train
