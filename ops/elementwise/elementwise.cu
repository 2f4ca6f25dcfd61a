#include "ops/elementwise/elementwise_cuda.h"

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "ops/elementwise/elementwise_math.h"

namespace hqlt::detail {
namespace {

using cuda::blocks_for;
using cuda::kThreads;
using cuda::make_geometry;
using cuda::offsets_of;
using cuda::StridedGeometry;

// What one launch computes, from operands in0..in2 (see the switch in map_kernel).
enum class Program { unary, unary_grad, binary, binary_grad_a, binary_grad_b };

// Operand 0 is the (contiguous) output, operands 1..3 are in0..in2.
template <typename T>
__global__ void map_kernel(Program prog, int kind, T s, StridedGeometry g, int64_t n, T* out, const T* in0,
                           const T* in1, const T* in2) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[4];
    offsets_of<4>(g, i, off);
    T r;
    switch (prog) {
      case Program::unary: r = unary_f(UnaryKind(kind), in0[off[1]], s); break;
      case Program::unary_grad: r = in0[off[1]] * unary_d(UnaryKind(kind), in1[off[2]], s); break;
      case Program::binary: r = binary_f(BinaryKind(kind), in0[off[1]], in1[off[2]]); break;
      case Program::binary_grad_a: r = in0[off[1]] * binary_da(BinaryKind(kind), in1[off[2]], in2[off[3]]); break;
      default: r = in0[off[1]] * binary_db(BinaryKind(kind), in1[off[2]], in2[off[3]]); break;
    }
    out[off[0]] = r;
  }
}

Strides strides_over(const Tensor& t, const Shape& shape) {
  Strides out(shape.size(), 0);
  size_t lead = shape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) out[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return out;
}

// Runs `prog` over the broadcast shape of the inputs; returns the fresh output.
Tensor launch(const char* op, Program prog, int kind, double scalar, const std::vector<Tensor>& in) {
  Shape shape = in[0].shape();
  for (size_t i = 1; i < in.size(); ++i) shape = broadcast_shapes(shape, in[i].shape(), op);
  for (const Tensor& t : in) {
    HQLT_CHECK(t.device() == Device::cuda && t.dtype() == in[0].dtype(), op,
               ": cuda kernel expects every operand on cuda with dtype ", dtype_name(in[0].dtype()), ", got ",
               device_name(t.device()), " ", dtype_name(t.dtype()));
  }
  Tensor out = empty(shape, in[0].dtype(), Device::cuda);
  const int64_t n = out.numel();
  if (n == 0) return out;
  std::vector<Strides> strides{out.strides()};
  for (const Tensor& t : in) strides.push_back(strides_over(t, shape));
  StridedGeometry g = make_geometry(op, shape, strides);
  dispatch_float(out.dtype(), op, [&]<typename T>() {
    const T* p[3] = {nullptr, nullptr, nullptr};
    for (size_t i = 0; i < in.size(); ++i) p[i] = in[i].data<T>();
    map_kernel<T><<<blocks_for(n), kThreads>>>(prog, kind, T(scalar), g, n, out.data<T>(), p[0], p[1], p[2]);
    HQLT_CUDA_CHECK_LAUNCH("map_kernel");
  });
  return out;
}

}  // namespace

Tensor unary_cuda(const char* op, UnaryFn fn, const Tensor& x) {
  return launch(op, Program::unary, int(fn.kind), fn.scalar, {x});
}

Tensor unary_grad_cuda(const char* op, UnaryFn fn, const Tensor& g, const Tensor& v) {
  return launch(op, Program::unary_grad, int(fn.kind), fn.scalar, {g, v});
}

Tensor binary_cuda(const char* op, BinaryKind kind, const Tensor& a, const Tensor& b) {
  return launch(op, Program::binary, int(kind), 0.0, {a, b});
}

Tensor binary_grad_cuda(const char* op, BinaryKind kind, int input, const Tensor& g, const Tensor& a, const Tensor& b) {
  return launch(op, input == 0 ? Program::binary_grad_a : Program::binary_grad_b, int(kind), 0.0, {g, a, b});
}

}  // namespace hqlt::detail
