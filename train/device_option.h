#pragma once
// The --device option of the commands (train, eval, logits, bench train): parsing it, and
// making sure the GPU can be used before any work starts, with one clear error naming the
// command when it cannot (a build without CUDA, or no GPU on this machine).
#include <string>

#include "engine/tensor.h"

namespace hqlt::train {

// "cpu" or "cuda"; anything else is an error naming `command`.
Device parse_device(const std::string& name, const char* command);

// For cuda: throws unless this build has CUDA and a GPU can be used. Nothing for cpu.
void require_device(Device device, const char* command);

}  // namespace hqlt::train
