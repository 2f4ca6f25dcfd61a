#pragma once
// How the generic kernels walk tensors: up to kMaxOperands operands share one logical
// shape, each with its own strides (0 for a broadcast dim). The host coalesces the shape
// first (drops size-1 dims, merges dims that are back to back in every operand), so a
// contiguous operation becomes one flat run and the kernel skips the index arithmetic.
// Needs no CUDA headers: offsets_of is also compiled for the host, where
// tests/cuda/test_strided_geometry.cpp checks it against plain strided indexing.
#include <vector>

#include "engine/error.h"
#include "engine/host_device.h"
#include "engine/shape.h"

namespace hqlt::cuda {

constexpr int kMaxDims = 8;
constexpr int kMaxOperands = 4;

struct StridedGeometry {
  int rank = 0;
  bool flat = true;  // every operand walks the elements with stride 1: offset == index
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxOperands][kMaxDims] = {};
};

// `strides[i]` are operand i's strides (in elements) over `shape`.
inline StridedGeometry make_geometry(const char* op, const Shape& shape, const std::vector<Strides>& strides) {
  HQLT_CHECK(strides.size() <= size_t(kMaxOperands), op, ": at most ", kMaxOperands, " operands per kernel");
  StridedGeometry g;
  const size_t n_ops = strides.size();
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> steps(n_ops);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (size_t i = 0; i < n_ops && merge; ++i) merge = steps[i].back() == strides[i][d] * shape[d];
    if (merge) {
      sizes.back() *= shape[d];
      for (size_t i = 0; i < n_ops; ++i) steps[i].back() = strides[i][d];
      continue;
    }
    sizes.push_back(shape[d]);
    for (size_t i = 0; i < n_ops; ++i) steps[i].push_back(strides[i][d]);
  }
  HQLT_CHECK(sizes.size() <= size_t(kMaxDims), op, ": a cuda kernel walks at most ", kMaxDims,
             " non-mergeable dims, got shape ", shape_str(shape));
  g.rank = int(sizes.size());
  for (int d = 0; d < g.rank; ++d) {
    g.size[d] = sizes[size_t(d)];
    for (size_t i = 0; i < n_ops; ++i) g.stride[i][d] = steps[i][size_t(d)];
  }
  g.flat = g.rank == 0;
  if (g.rank == 1) {
    g.flat = true;
    for (size_t i = 0; i < n_ops; ++i) g.flat &= g.stride[i][0] == 1;
  }
  return g;
}

// The offsets (in elements) of logical element `index` in the first N operands.
template <int N>
HQLT_HD inline void offsets_of(const StridedGeometry& g, int64_t index, int64_t (&off)[N]) {
  if (g.flat) {
    for (int i = 0; i < N; ++i) off[i] = index;
    return;
  }
  for (int i = 0; i < N; ++i) off[i] = 0;
  for (int d = g.rank - 1; d >= 0; --d) {
    int64_t c = index % g.size[d];
    index /= g.size[d];
    for (int i = 0; i < N; ++i) off[i] += c * g.stride[i][d];
  }
}

// A grid-stride launch shape for n elements. 4096 blocks of 256 threads is about four
// times what an H100 holds resident (132 SMs × 2048 threads), enough to keep a
// memory-bound loop busy; larger tensors loop.
constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < kMaxBlocks ? (b > 0 ? b : 1) : kMaxBlocks);
}

}  // namespace hqlt::cuda
