#pragma once
// One test body, every device: for_each_device(body) runs body(device) on the CPU and, where
// this build and machine can use one, on the GPU — the same cases, the same reference, the
// same bounds. While it runs, the allocator poisons every block it hands out with NaN
// (memory::set_poison), so an output element an op forgets to write fails the comparison
// on either device instead of passing with whatever the memory held.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/device.h"
#include "engine/tensor.h"

namespace hqlt::testing {

// Empty when a GPU can be used; otherwise why not.
inline std::string gpu_unavailable_reason() {
  if (!cuda_built()) return "this hqlt was built without CUDA (-DHQLT_CUDA=OFF)";
  return cuda_available() ? std::string() : "no CUDA GPU is available on this machine";
}

// The devices a test body runs on: the CPU, then the GPU where one can be used.
inline std::vector<Device> test_devices() {
  std::vector<Device> devices{Device::cpu};
  if (gpu_unavailable_reason().empty()) devices.push_back(Device::cuda);
  return devices;
}

// Allocator poisoning for one scope (restores what was set before).
class PoisonedAllocations {
 public:
  PoisonedAllocations() : before_(memory::poison()) { memory::set_poison(true); }
  ~PoisonedAllocations() { memory::set_poison(before_); }
  PoisonedAllocations(const PoisonedAllocations&) = delete;
  PoisonedAllocations& operator=(const PoisonedAllocations&) = delete;

 private:
  bool before_;
};

template <typename Body>
void for_each_device(const Body& body) {
  const PoisonedAllocations poisoned;
  for (Device device : test_devices()) {
    const std::string on_device = device_name(device);
    CAPTURE(on_device);
    body(device);
  }
}

}  // namespace hqlt::testing
