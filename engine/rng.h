#pragma once
// Random numbers from a counter-based generator (Philox-4x32-10, Salmon et al. 2011): the
// n-th number depends only on (seed, n), never on how the work is split, so a CPU loop, an
// OpenMP loop and a CUDA kernel all draw the same values.
//
// A Generator is a seed plus an offset (how many counters were used). Each draw of k
// numbers uses counters offset .. offset + ceil(k/2) - 1 and advances the offset: every
// Philox block of four 32-bit words gives two 53-bit uniforms, and Box–Muller turns those
// two into two normals.
#include <array>
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

struct Generator {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

// The process-wide default generator, and how to seed it.
Generator& default_generator();
void manual_seed(uint64_t seed);

// Philox-4x32-10 of a 64-bit counter under a 64-bit key.
std::array<uint32_t, 4> philox(uint64_t counter, uint64_t key);
// Element `index` of the streams behind rand / randn for a given (seed, offset).
double uniform_at(uint64_t seed, uint64_t offset, uint64_t index);
double normal_at(uint64_t seed, uint64_t offset, uint64_t index);

// Fresh tensors: uniform in [low, high), or normal with the given mean and std.
Tensor rand(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu, double low = 0.0,
            double high = 1.0, Generator& gen = default_generator());
Tensor randn(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu, double mean = 0.0,
             double std = 1.0, Generator& gen = default_generator());
// Uniform integers in [low, high), as i64 (or i32).
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::i64,
               Generator& gen = default_generator());

}  // namespace hqlt
