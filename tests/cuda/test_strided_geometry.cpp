// The host-side half of the generic cuda kernels, checked on the CPU (no GPU needed): the
// strided walk every one of them uses (engine/cuda/strided.h) against plain strided
// indexing.
#include <doctest/doctest.h>

#include <vector>

#include "engine/cuda/strided.h"
#include "engine/tensor.h"

using namespace hqlt;

namespace {

// Offsets of every logical element, the slow way: row-major coordinates times strides.
std::vector<int64_t> reference_offsets(const Shape& shape, const Strides& strides) {
  std::vector<int64_t> out;
  const int64_t n = numel_of(shape);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = 0;
    for (size_t d = shape.size(); d-- > 0;) {
      off += (rem % shape[d]) * strides[d];
      rem /= shape[d];
    }
    out.push_back(off);
  }
  return out;
}

void check_walk(const Shape& shape, const Strides& a, const Strides& b) {
  cuda::StridedGeometry g = cuda::make_geometry("test", shape, {a, b});
  std::vector<int64_t> ra = reference_offsets(shape, a), rb = reference_offsets(shape, b);
  for (int64_t i = 0; i < numel_of(shape); ++i) {
    int64_t off[2];
    cuda::offsets_of<2>(g, i, off);
    REQUIRE(off[0] == ra[size_t(i)]);
    REQUIRE(off[1] == rb[size_t(i)]);
  }
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("cuda strided walk matches plain strided indexing") {
    // Contiguous: one flat run.
    cuda::StridedGeometry flat = cuda::make_geometry("test", {2, 3, 4}, {{12, 4, 1}, {12, 4, 1}});
    CHECK(flat.flat);
    CHECK(flat.rank == 1);
    check_walk({2, 3, 4}, {12, 4, 1}, {12, 4, 1});
    // Transposed input against a contiguous output.
    cuda::StridedGeometry tr = cuda::make_geometry("test", {4, 3, 2}, {{6, 2, 1}, {1, 4, 12}});
    CHECK_FALSE(tr.flat);
    CHECK(tr.rank == 3);
    check_walk({4, 3, 2}, {6, 2, 1}, {1, 4, 12});
    // Broadcast (stride 0) and a sliced, stepped view; size-1 dims dropped.
    check_walk({5, 1, 3, 4}, {12, 12, 4, 1}, {0, 0, 1, 0});
    check_walk({3, 2, 2}, {4, 2, 1}, {40, 14, 3});
    // Merging stops where one operand is not back to back.
    cuda::StridedGeometry part = cuda::make_geometry("test", {2, 3, 4}, {{12, 4, 1}, {24, 4, 1}});
    CHECK(part.rank == 2);
    check_walk({2, 3, 4}, {12, 4, 1}, {24, 4, 1});
    // A scalar (rank 0).
    check_walk({}, {}, {});
  }

  TEST_CASE("cuda strided walk refuses more dims than it can hold") {
    Shape shape(9, 2);
    Strides odd(9);
    for (size_t d = 0; d < 9; ++d) odd[d] = int64_t(1) << (2 * (8 - d) + 1);  // never mergeable
    CHECK_THROWS_WITH_AS(cuda::make_geometry("add", shape, {odd}), doctest::Contains("add: a cuda kernel walks at most 8"),
                         Error);
  }
}
