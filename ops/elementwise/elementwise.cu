#include "ops/elementwise/elementwise_cuda.h"

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"

namespace hqlt::detail {
namespace {

using cuda::blocks_for;
using cuda::kThreads;
using cuda::make_geometry;
using cuda::offsets_of;
using cuda::StridedGeometry;

// What one launch computes from the operands in[0..2] at one element: the op's value or
// one of its derivatives times the incoming gradient in[0].
template <typename Op>
struct UnaryValue {
  Op op;
  template <typename T> HQLT_HD T operator()(const T* const* in, const int64_t* off) const {
    return op.value(in[0][off[1]]);
  }
};
template <typename Op>
struct UnaryGrad {
  Op op;
  template <typename T> HQLT_HD T operator()(const T* const* in, const int64_t* off) const {
    return in[0][off[1]] * op.derivative(in[1][off[2]]);
  }
};
template <typename Op>
struct BinaryValue {
  Op op;
  template <typename T> HQLT_HD T operator()(const T* const* in, const int64_t* off) const {
    return op.value(in[0][off[1]], in[1][off[2]]);
  }
};
template <typename Op, int input>
struct BinaryGrad {
  Op op;
  template <typename T> HQLT_HD T operator()(const T* const* in, const int64_t* off) const {
    const T a = in[1][off[2]], b = in[2][off[3]];
    return in[0][off[1]] * (input == 0 ? op.da(a, b) : op.db(a, b));
  }
};

// Operand 0 of the geometry is the (contiguous) output, operands 1..3 are in[0..2].
template <typename T, typename Program>
__global__ void map_kernel(Program program, StridedGeometry g, int64_t n, T* out, const T* in0, const T* in1,
                           const T* in2) {
  const T* const in[3] = {in0, in1, in2};
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[4];
    offsets_of<4>(g, i, off);
    out[off[0]] = program(in, off);
  }
}

Strides strides_over(const Tensor& t, const Shape& shape) {
  Strides out(shape.size(), 0);
  size_t lead = shape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) out[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return out;
}

// Runs `program` over the broadcast shape of the inputs; returns the fresh output.
template <typename Program>
Tensor launch(const char* op, Program program, const std::vector<Tensor>& in) {
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
    map_kernel<T><<<blocks_for(n), kThreads>>>(program, g, n, out.data<T>(), p[0], p[1], p[2]);
    HQLT_CUDA_CHECK_LAUNCH("map_kernel");
  });
  return out;
}

}  // namespace

template <typename Op>
Tensor unary_cuda(Op op, const Tensor& x) {
  return launch(Op::name, UnaryValue<Op>{op}, {x});
}

template <typename Op>
Tensor unary_grad_cuda(Op op, const Tensor& g, const Tensor& v) {
  return launch(Op::name, UnaryGrad<Op>{op}, {g, v});
}

template <typename Op>
Tensor binary_cuda(Op op, const Tensor& a, const Tensor& b) {
  return launch(Op::name, BinaryValue<Op>{op}, {a, b});
}

template <typename Op>
Tensor binary_grad_cuda(Op op, int input, const Tensor& g, const Tensor& a, const Tensor& b) {
  return input == 0 ? launch(Op::name, BinaryGrad<Op, 0>{op}, {g, a, b})
                    : launch(Op::name, BinaryGrad<Op, 1>{op}, {g, a, b});
}

#define HQLT_INSTANTIATE_UNARY(Op)                                             \
  template Tensor unary_cuda<elementwise::Op>(elementwise::Op, const Tensor&); \
  template Tensor unary_grad_cuda<elementwise::Op>(elementwise::Op, const Tensor&, const Tensor&);
#define HQLT_INSTANTIATE_BINARY(Op)                                                                  \
  template Tensor binary_cuda<elementwise::Op>(elementwise::Op, const Tensor&, const Tensor&);       \
  template Tensor binary_grad_cuda<elementwise::Op>(elementwise::Op, int, const Tensor&, const Tensor&, \
                                                    const Tensor&);
HQLT_UNARY_OPS(HQLT_INSTANTIATE_UNARY)
HQLT_BINARY_OPS(HQLT_INSTANTIATE_BINARY)

}  // namespace hqlt::detail
