// The CUDA kernels of sum, mean and max: thin launchers around reduce_math.h, where the
// algorithm lives (one thread block per output element, reducing one row of the
// [n_out, count] matrix in a fixed tree order; no atomics). Also sum_to (the gradient of
// a broadcast) and the in-place scaling of mean's backward and of gradient clipping.
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/reduce/reduce_cuda.h"
#include "ops/reduce/reduce_math.h"

namespace hqlt::detail {
namespace {

namespace rm = reduce_math;
namespace rb = row_blocks;

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) sum_kernel(rm::Args<T> a) {
  __shared__ T s[rb::kThreads];
  rm::sum_row(rb::BlockPhases{}, s, int64_t(blockIdx.x), a);
}

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) max_kernel(rm::Args<T> a) {
  __shared__ rm::ArgMax<T> s[rb::kThreads];
  rm::max_row(rb::BlockPhases{}, s, int64_t(blockIdx.x), a);
}

template <typename T>
__global__ void max_backward_kernel(int64_t n_out, int64_t count, T* drows, const T* g, const int64_t* where) {
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out; o += int64_t(gridDim.x) * blockDim.x)
    rm::max_backward_at(o, drows, g, where, count);
}

template <typename T>
__global__ void scale_kernel(T* x, int64_t n, T c) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= c;
}

// One thread per output element: `kept` walks the output's dims (operand 0: grad's
// strides there), `reduced` walks the summed dims (operand 0: grad's strides there).
// Each thread reads its own run; simple, and plenty for the gradient of a broadcast.
template <typename T>
__global__ void sum_to_kernel(cuda::StridedGeometry kept, cuda::StridedGeometry reduced, int64_t n_out,
                              int64_t n_red, const T* grad, T* out) {
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out; o += int64_t(gridDim.x) * blockDim.x) {
    int64_t base[1];
    cuda::offsets_of<1>(kept, o, base);
    double acc = 0;
    for (int64_t j = 0; j < n_red; ++j) {
      int64_t off[1];
      cuda::offsets_of<1>(reduced, j, off);
      acc += double(grad[base[0] + off[0]]);
    }
    out[o] = T(acc);
  }
}

template <typename T>
rm::Args<T> args_of(const Tensor& out, const Tensor& rows) {
  rm::Args<T> a;
  a.n_out = rows.size(0), a.count = rows.size(1);
  a.x = rows.data<T>();
  a.out = out.data<T>();
  HQLT_CHECK(a.n_out < (int64_t(1) << 31), "reduce: cuda kernels take fewer than 2^31 outputs, got ", a.n_out);
  return a;
}

}  // namespace

void reduce_sum_cuda(const Tensor& out, const Tensor& rows, bool scaled, double scale) {
  if (rows.size(0) == 0) return;
  dispatch_float(rows.dtype(), "sum", [&]<typename T>() {
    rm::Args<T> a = args_of<T>(out, rows);
    a.scaled = scaled, a.scale = T(scale);
    sum_kernel<T><<<unsigned(a.n_out), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("reduce sum_kernel");
  });
}

void reduce_max_cuda(const Tensor& out, const Tensor& where, const Tensor& rows) {
  if (rows.size(0) == 0) return;
  dispatch_float(rows.dtype(), "max", [&]<typename T>() {
    rm::Args<T> a = args_of<T>(out, rows);
    a.where = where.data<int64_t>();
    max_kernel<T><<<unsigned(a.n_out), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("reduce max_kernel");
  });
}

void reduce_max_backward_cuda(const Tensor& drows, const Tensor& g, const Tensor& where) {
  fill(drows, 0.0);
  const int64_t n_out = drows.size(0), count = drows.size(1);
  if (n_out == 0) return;
  dispatch_float(drows.dtype(), "max", [&]<typename T>() {
    max_backward_kernel<T><<<cuda::blocks_for(n_out), cuda::kThreads>>>(n_out, count, drows.data<T>(), g.data<T>(),
                                                                         where.data<int64_t>());
    HQLT_CUDA_CHECK_LAUNCH("reduce max_backward_kernel");
  });
}

template <typename T>
void scale_in_place_cuda(T* x, int64_t n, T c) {
  if (n == 0) return;
  scale_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(x, n, c);
  HQLT_CUDA_CHECK_LAUNCH("scale_kernel");
}

template void scale_in_place_cuda<float>(float*, int64_t, float);
template void scale_in_place_cuda<double>(double*, int64_t, double);

void reduce_scale_cuda(const Tensor& t, double scale) {
  const int64_t n = t.numel();
  if (n == 0) return;
  dispatch_float(t.dtype(), "mean", [&]<typename T>() {
    scale_in_place_cuda(t.data<T>(), n, T(scale));
  });
}

Tensor sum_to_cuda(const Tensor& grad, const Shape& shape) {
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
  cuda::StridedGeometry kept = cuda::make_geometry("sum_to", kept_size, {grad.strides()});
  cuda::StridedGeometry reduced = cuda::make_geometry("sum_to", red_size, {grad.strides()});
  // Output element o is element o of kept_size in row-major order (the two shapes differ
  // only by dims of size 1); `kept` maps o to grad's offset of that element.
  dispatch_float(grad.dtype(), "sum_to", [&]<typename T>() {
    sum_to_kernel<T><<<cuda::blocks_for(n_out), cuda::kThreads>>>(kept, reduced, n_out, n_red, grad.data<T>(),
                                                                  out.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("sum_to_kernel");
  });
  return out;
}

}  // namespace hqlt::detail
