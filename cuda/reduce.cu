#include "cuda/reduce.h"

#include "cuda/check.h"
#include "cuda/strided.h"

namespace hqlt::cuda {
namespace {

// One thread per output element: `kept` walks the output's dims (operand 0: grad's
// strides there), `reduced` walks the summed dims (operand 0: grad's strides there).
// Each thread reads its own run; simple, and plenty for the gradient of a broadcast.
template <typename T>
__global__ void sum_to_kernel(StridedGeometry kept, StridedGeometry reduced, int64_t n_out, int64_t n_red,
                              const T* grad, T* out) {
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out; o += int64_t(gridDim.x) * blockDim.x) {
    int64_t base[1];
    offsets_of<1>(kept, o, base);
    double acc = 0;
    for (int64_t j = 0; j < n_red; ++j) {
      int64_t off[1];
      offsets_of<1>(reduced, j, off);
      acc += double(grad[base[0] + off[0]]);
    }
    out[o] = T(acc);
  }
}

}  // namespace

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  HQLT_CHECK(grad.device() == Device::cuda, "sum_to: cuda kernel expects a cuda tensor");
  Shape full = grad.shape();
  HQLT_CHECK(shape.size() <= full.size(), "sum_to: target shape ", shape_str(shape), " has more dims than ",
             shape_str(full));
  // Line the target up with grad's trailing dims; a target dim is either kept (same size)
  // or summed (size 1).
  const size_t lead = full.size() - shape.size();
  Shape kept_size(full.size(), 1), red_size(full.size(), 1);
  for (size_t d = 0; d < full.size(); ++d) {
    int64_t target = d < lead ? 1 : shape[d - lead];
    HQLT_CHECK(target == full[d] || target == 1, "sum_to: shape ", shape_str(shape), " does not broadcast to ",
               shape_str(full));
    (target == full[d] ? kept_size : red_size)[d] = full[d];
  }
  Tensor out = empty(shape, grad.dtype(), Device::cuda);
  const int64_t n_out = out.numel();
  if (n_out == 0) return out;
  const int64_t n_red = numel_of(red_size);
  StridedGeometry kept = make_geometry("sum_to", kept_size, {grad.strides()});
  StridedGeometry reduced = make_geometry("sum_to", red_size, {grad.strides()});
  // Output element o is element o of kept_size in row-major order (the two shapes differ
  // only by dims of size 1); `kept` maps o to grad's offset of that element.
  dispatch_float(grad.dtype(), "sum_to", [&]<typename T>() {
    sum_to_kernel<T><<<blocks_for(n_out), kThreads>>>(kept, reduced, n_out, n_red, grad.data<T>(), out.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("sum_to_kernel");
  });
  return out;
}

}  // namespace hqlt::cuda
