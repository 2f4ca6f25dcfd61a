#include "ops/op_utils.h"

#include "engine/device.h"
#include "ops/reduce/reduce.h"
#include "ops/reduce/reduce_cuda.h"

namespace hqlt::ops {

void check_defined(const char* op, const char* arg, const Tensor& t) {
  HQLT_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

void check_floating(const char* op, const char* arg, const Tensor& t) {
  check_defined(op, arg, t);
  HQLT_CHECK(is_floating(t.dtype()), op, ": argument '", arg, "': expected dtype f32 or f64, got ",
             dtype_name(t.dtype()));
}

void check_same_kind(const char* op, const char* arg_a, const Tensor& a, const char* arg_b, const Tensor& b) {
  check_defined(op, arg_a, a);
  check_defined(op, arg_b, b);
  HQLT_CHECK(a.dtype() == b.dtype(), op, ": argument '", arg_b, "': expected dtype ", dtype_name(a.dtype()),
             " (as '", arg_a, "'), got ", dtype_name(b.dtype()));
  HQLT_CHECK(a.device() == b.device(), op, ": argument '", arg_b, "': expected device ",
             device_name(a.device()), " (as '", arg_a, "'), got ", device_name(b.device()));
}

void check_cpu(const char* op, const Tensor& t) {
  HQLT_CHECK(t.device() == Device::cpu, op, ": no cuda kernel for this op in this build (tensor is on cuda)");
}

void check_device_built(const char* op, const Tensor& t) {
  if constexpr (!kWithCuda) {
    HQLT_CHECK(t.device() == Device::cpu, op, ": no cuda kernel in this build: the tensor is on cuda but this hqlt ",
               "was built without CUDA (rebuild with -DHQLT_CUDA=ON)");
  }
}

void check_rank(const char* op, const char* arg, const Tensor& t, int64_t rank) {
  check_defined(op, arg, t);
  HQLT_CHECK(t.dim() == rank, op, ": argument '", arg, "': expected rank ", rank, ", got shape ",
             shape_str(t.shape()));
}

void check_power_of_two(const char* op, const char* arg, int64_t size, int64_t lo, int64_t hi) {
  HQLT_CHECK(is_power_of_two(size) && size >= lo && size <= hi, op, ": argument '", arg,
             "': expected a power of two in [", lo, ", ", hi, "], got ", size);
}

Tensor contiguous_detached(const Tensor& t) {
  if (!t.defined()) return Tensor();
  return t.is_contiguous() ? t.detach() : clone_contiguous(t);
}

Strides broadcast_strides(const Tensor& t, const Shape& target) {
  Strides out(target.size(), 0);
  size_t lead = target.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i)
    out[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  if constexpr (kWithCuda) {
    if (grad.device() == Device::cuda) return detail::sum_to_cuda(grad, shape);
  }
  // Sum the leading dims the broadcast added, then the dims that were 1.
  size_t lead = grad.shape().size() - shape.size();
  std::vector<int64_t> dims;
  for (size_t i = 0; i < grad.shape().size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && grad.shape()[i] != 1)) dims.push_back(int64_t(i));
  NoGrad no_grad;
  Tensor s = sum(grad, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

}  // namespace hqlt::ops
