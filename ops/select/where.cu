// The CUDA kernel of where and masked_fill: one grid-stride walk over the output (the
// strided geometry of engine/cuda/strided.h, so broadcast and strided inputs need no copies),
// choosing each element by where_math.h's rule. A constant branch (masked_fill's value, a
// gradient's zero) comes as a value with a null pointer.
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "ops/select/where_cuda.h"
#include "ops/select/where_math.h"

namespace hqlt::detail {
namespace {

// Operands in the geometry: 0 out, 1 cond, 2 a, 3 b.
template <typename T, typename C>
__global__ void choose_kernel(cuda::StridedGeometry g, int64_t n, T* out, const C* cond, const T* a, T a_value,
                              const T* b, T b_value) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[4];
    cuda::offsets_of<4>(g, i, off);
    out[off[0]] = choose(cond[off[1]], a ? a[off[2]] : a_value, b ? b[off[3]] : b_value);
  }
}

// The operand's strides, or zeros for a constant.
Strides strides_of(const ChooseOperand& x, size_t rank) {
  return x.t.defined() ? x.strides : Strides(rank, 0);
}

}  // namespace

void choose_cuda(const char* op, const Tensor& out, const ChooseOperand& cond, const ChooseOperand& a,
                 const ChooseOperand& b) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const size_t rank = out.shape().size();
  const cuda::StridedGeometry g =
      cuda::make_geometry(op, out.shape(), {out.strides(), cond.strides, strides_of(a, rank), strides_of(b, rank)});
  dispatch_float(out.dtype(), op, [&]<typename T>() {
    dispatch_all(cond.t.dtype(), [&]<typename C>() {
      const T* pa = a.t.defined() ? a.t.data<T>() : nullptr;
      const T* pb = b.t.defined() ? b.t.data<T>() : nullptr;
      choose_kernel<T, C><<<cuda::blocks_for(n), cuda::kThreads>>>(g, n, out.data<T>(), cond.t.data<C>(), pa,
                                                                   T(a.value), pb, T(b.value));
      HQLT_CUDA_CHECK_LAUNCH("choose_kernel");
    });
  });
}

}  // namespace hqlt::detail
