#pragma once
// Tensor: a cheap handle (shared ownership) on a TensorImpl — storage, shape, strides,
// offset, dtype, device, and the autograd fields. Copying a Tensor copies the handle.
//
// Views share storage. The differentiable view methods (reshape, transpose, permute,
// slice, unsqueeze, squeeze, expand, contiguous) are declared here for convenience and
// defined with the other shape ops in ops/shape/, because they record on the tape.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/dtype.h"
#include "engine/shape.h"

namespace hqlt {

namespace autograd {
struct Node;
}

// A block of memory on one device, returned to the caching allocator when the last
// tensor using it goes away.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device = Device::cpu;
  Storage(size_t bytes, Device dev);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;

  // Autograd. A leaf that requires grad accumulates into `grad`; a non-leaf knows the
  // tape node that produced it and which of that node's outputs it is.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  int output_index = 0;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Strides& strides() const { return impl_->strides; }
  int64_t offset() const { return impl_->offset; }
  int64_t dim() const { return int64_t(impl_->shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return numel_of(impl_->shape); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device; }
  bool is_contiguous() const;

  // Pointer to the first element (storage + offset). T must match dtype().
  template <typename T>
  T* data() const {
    HQLT_CHECK(dtype_of<T>() == impl_->dtype, "Tensor::data: tensor has dtype ",
               dtype_name(impl_->dtype), ", asked for ", dtype_name(dtype_of<T>()));
    return static_cast<T*>(impl_->storage->data) + impl_->offset;
  }
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data) + impl_->offset * int64_t(dtype_size(impl_->dtype));
  }

  // Autograd.
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& set_requires_grad(bool on);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  // Back-propagates from this tensor: a scalar, or any shape with `gradient` of that shape.
  void backward(const Tensor& gradient = Tensor()) const;
  // Same storage and view, cut from the tape, requires_grad false.
  Tensor detach() const;

  // Values.
  double item() const;  // the single element, any dtype, copied to the host
  std::vector<double> to_vector() const;  // all elements in logical (row-major) order
  std::string to_string() const;
  Tensor to(Device device) const;  // differentiable copy between devices (ops/shape)
  Tensor to(DType dtype) const;    // differentiable cast between float types (ops/shape)

  // Differentiable views (ops/shape). -1 in reshape infers one size.
  Tensor reshape(const Shape& shape) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor contiguous() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& o, const Tensor& t);

// ---- Creation (not recorded on the tape) -------------------------------------------
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu);
Tensor arange(int64_t start, int64_t end, int64_t step = 1, DType dtype = DType::i64,
              Device device = Device::cpu);
Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype = DType::f32,
                   Device device = Device::cpu);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);

// ---- Raw (non-differentiable) view and copy machinery used by kernels --------------
// A view of t's storage with the given geometry; checks it stays inside the storage.
Tensor as_strided(const Tensor& t, const Shape& shape, const Strides& strides, int64_t offset);
// dst[...] = src[...] element by element (same shape; any strides; dtype converted).
void copy_into(const Tensor& dst, const Tensor& src);
// A contiguous copy of t on the same device (no tape).
Tensor clone_contiguous(const Tensor& t);
// How many elements of t are NaN or infinite (0 for an integer tensor); any device and
// strides. Used to name the tensor that went bad (a gradient, a checkpoint's weights).
int64_t count_non_finite(const Tensor& t);
// Fills every element of t with value.
void fill(const Tensor& t, double value);
// acc += g, element by element (same shape; used to accumulate gradients).
void accumulate_into(const Tensor& acc, const Tensor& g);

}  // namespace hqlt
