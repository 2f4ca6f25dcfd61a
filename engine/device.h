#pragma once
// What the layers above the engine ask about the GPU, without the CUDA machinery
// (engine/cuda/, which only the engine and the kernels include): whether this build has
// CUDA, whether a GPU can be used, and waiting for its queued work. Every build has these
// functions; a build without CUDA answers no.
#include "engine/dtype.h"

namespace hqlt {

// Whether this build has the CUDA backend (configured with CUDA: HQLT_HAS_CUDA).
bool cuda_built();

// The same, as a constant for an op's GPU branch:
//   if constexpr (kWithCuda) {
//     if (x.device() == Device::cuda) return detail::foo_cuda(x);
//   }
// In a build without CUDA the braces are a discarded statement: compiled out, and the
// functions of the op's *_cuda.h called there need no definition (C++17 [basic.def.odr]),
// so the op needs no #ifdef and its CUDA header is included in every build.
#ifdef HQLT_HAS_CUDA
inline constexpr bool kWithCuda = true;
#else
inline constexpr bool kWithCuda = false;
#endif
// Whether a CUDA GPU can be used now: a CUDA build on a machine whose driver reports one.
bool cuda_available();
// Throws hqlt::Error unless a CUDA GPU can be used; the message says why (a build without
// CUDA, or the driver's reason on a CUDA build, ending "use --device cpu").
void require_cuda();
// Waits until the work queued on `device` has finished (nothing to wait for on the CPU).
void synchronize(Device device);

}  // namespace hqlt
