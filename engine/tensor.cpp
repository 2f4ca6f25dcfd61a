#include "engine/tensor.h"

#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "engine/autograd.h"
#include "engine/strided_loop.h"

#ifdef HQLT_HAS_CUDA
#include "engine/cuda/copy.h"
#include "engine/cuda/runtime.h"
#endif

namespace hqlt {

Storage::Storage(size_t bytes, Device dev) : nbytes(bytes), device(dev) {
  data = memory::allocate(bytes, dev);
}
Storage::~Storage() { memory::deallocate(data, nbytes, device); }

int64_t Tensor::size(int64_t d) const { return impl_->shape[wrap_dim(d, dim(), "Tensor::size")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

Tensor& Tensor::set_requires_grad(bool on) {
  HQLT_CHECK(!on || is_floating(dtype()), "set_requires_grad: only float tensors can require grad, got ",
             dtype_name(dtype()));
  HQLT_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad; use detach()");
  impl_->requires_grad = on;
  return *this;
}

void Tensor::backward(const Tensor& gradient) const { autograd::backward(*this, gradient); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

std::vector<double> Tensor::to_vector() const {
  Tensor host = *this;
  if (device() != Device::cpu) {
    host = empty(shape(), dtype(), Device::cpu);
    copy_into(host, clone_contiguous(*this));
  }
  Tensor as_f64 = empty(shape(), DType::f64, Device::cpu);
  copy_into(as_f64, host);
  const double* p = as_f64.data<double>();
  return std::vector<double>(p, p + as_f64.numel());
}

int64_t count_non_finite(const Tensor& t) {
  if (!is_floating(t.dtype())) return 0;
  Tensor host = t;
  if (t.device() != Device::cpu || !t.is_contiguous()) {
    host = empty(t.shape(), t.dtype(), Device::cpu);
    copy_into(host, t.device() == Device::cpu ? t : clone_contiguous(t));
  }
  return dispatch_float(t.dtype(), "count_non_finite", [&]<typename T>() {
    const T* p = host.data<T>();
    int64_t bad = 0;
    for (int64_t i = 0; i < host.numel(); ++i) bad += std::isfinite(p[i]) ? 0 : 1;
    return bad;
  });
}

double Tensor::item() const {
  HQLT_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape_str(shape()));
  return to_vector()[0];
}

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream o;
  o << "Tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype())
    << ", device=" << device_name(device());
  if (requires_grad()) o << ", requires_grad";
  o << ")\n";
  std::vector<double> v = to_vector();
  const Shape& s = shape();
  // Print nested brackets; long dims show their first and last 3 entries.
  std::vector<int64_t> strides = contiguous_strides(s);
  o << std::setprecision(dtype() == DType::f64 ? 10 : 5);
  auto rec = [&](auto&& self, size_t d, int64_t base) -> void {
    if (d == s.size()) {
      o << v[size_t(base)];
      return;
    }
    o << "[";
    for (int64_t i = 0; i < s[d]; ++i) {
      if (s[d] > 6 && i == 3) {
        o << "..., ";
        i = s[d] - 3;
      }
      self(self, d + 1, base + i * strides[d]);
      if (i + 1 < s[d]) o << (d + 1 == s.size() ? ", " : ",\n" + std::string(d + 1, ' '));
    }
    o << "]";
  };
  rec(rec, 0, 0);
  return o.str();
}

std::ostream& operator<<(std::ostream& o, const Tensor& t) { return o << t.to_string(); }

// ---- creation -------------------------------------------------------------------------

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) HQLT_CHECK(s >= 0, "empty: negative size in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(numel_of(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }

Tensor arange(int64_t start, int64_t end, int64_t step, DType dtype, Device device) {
  HQLT_CHECK(step != 0, "arange: step must be non-zero");
  int64_t n = std::max<int64_t>(0, (end - start + step + (step > 0 ? -1 : 1)) / step);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = double(start + i * step);
  return from_vector(v, {n}, dtype, device);
}

Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
  HQLT_CHECK(int64_t(values.size()) == numel_of(shape), "from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape));
  Tensor host = empty(shape, dtype, Device::cpu);
  dispatch_all(dtype, [&]<typename T>() {
    T* p = host.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = T(values[i]);
  });
  if (device == Device::cpu) return host;
  Tensor dev = empty(shape, dtype, device);
  copy_into(dev, host);
  return dev;
}

// ---- raw views and copies ---------------------------------------------------------------

Tensor as_strided(const Tensor& t, const Shape& shape, const Strides& strides, int64_t offset) {
  HQLT_CHECK(shape.size() == strides.size(), "as_strided: shape and strides differ in rank");
  int64_t lo = offset, hi = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) {
      lo = hi = offset;
      break;
    }
    int64_t span = (shape[i] - 1) * strides[i];
    (span < 0 ? lo : hi) += span;
  }
  int64_t capacity = int64_t(t.impl()->storage->nbytes / dtype_size(t.dtype()));
  HQLT_CHECK(lo >= 0 && (numel_of(shape) == 0 || hi < capacity), "as_strided: view ", shape_str(shape),
             " at offset ", offset, " reaches outside its storage of ", capacity, " elements");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl()->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(impl);
}

void copy_into(const Tensor& dst, const Tensor& src) {
  HQLT_CHECK(dst.shape() == src.shape(), "copy: destination shape ", shape_str(dst.shape()),
             " differs from source shape ", shape_str(src.shape()));
  if (dst.device() == Device::cpu && src.device() == Device::cpu) {
    dispatch_all(dst.dtype(), [&]<typename D>() {
      dispatch_all(src.dtype(), [&]<typename S>() {
        D* d = static_cast<D*>(dst.impl()->storage->data) + dst.offset();
        const S* s = static_cast<const S*>(src.impl()->storage->data) + src.offset();
        strided_loop<2>(dst.shape(), {dst.strides(), src.strides()}, [&](auto off, int64_t n, auto step) {
          for (int64_t j = 0; j < n; ++j) d[off[0] + j * step[0]] = D(s[off[1] + j * step[1]]);
        });
      });
    });
    return;
  }
#ifdef HQLT_HAS_CUDA
  if (dst.dtype() != src.dtype() || !dst.is_contiguous() || !src.is_contiguous()) {
    if (dst.device() == src.device()) return cuda::copy(dst, src);  // strided kernel on the GPU
    // Across devices only whole contiguous blocks move: convert and compact on the source
    // side, move the bytes, then scatter into dst's view on its own side.
    Tensor staged = empty(src.shape(), dst.dtype(), src.device());
    copy_into(staged, src);
    Tensor landed = empty(dst.shape(), dst.dtype(), dst.device());
    copy_into(landed, staged);
    copy_into(dst, landed);
    return;
  }
  size_t bytes = size_t(dst.numel()) * dtype_size(dst.dtype());
  if (bytes == 0) return;
  if (src.device() == Device::cpu)
    cuda::memcpy_host_to_device(dst.raw_data(), src.raw_data(), bytes);
  else if (dst.device() == Device::cpu)
    cuda::memcpy_device_to_host(dst.raw_data(), src.raw_data(), bytes);
  else
    cuda::memcpy_device_to_device(dst.raw_data(), src.raw_data(), bytes);
#else
  fail("copy: this hqlt was built without CUDA");
#endif
}

Tensor clone_contiguous(const Tensor& t) {
  Tensor out = empty(t.shape(), t.dtype(), t.device());
  copy_into(out, t);
  return out;
}

void fill(const Tensor& t, double value) {
  if (t.device() != Device::cpu) {
#ifdef HQLT_HAS_CUDA
    cuda::fill(t, value);
    return;
#endif
  }
  dispatch_all(t.dtype(), [&]<typename T>() {
    T* base = static_cast<T*>(t.impl()->storage->data) + t.offset();
    T v = T(value);
    strided_loop<1>(t.shape(), {t.strides()}, [&](auto off, int64_t n, auto step) {
      for (int64_t j = 0; j < n; ++j) base[off[0] + j * step[0]] = v;
    });
  });
}

void accumulate_into(const Tensor& acc, const Tensor& g) {
  HQLT_CHECK(acc.shape() == g.shape(), "accumulate: shapes ", shape_str(acc.shape()), " and ",
             shape_str(g.shape()), " differ");
  HQLT_CHECK(acc.device() == g.device(), "accumulate: gradient on ", device_name(g.device()),
             " for a tensor on ", device_name(acc.device()));
  if (acc.device() != Device::cpu) {
#ifdef HQLT_HAS_CUDA
    return cuda::accumulate(acc, g);
#else
    fail("accumulate: this hqlt was built without CUDA");
#endif
  }
  dispatch_all(acc.dtype(), [&]<typename D>() {
    dispatch_all(g.dtype(), [&]<typename S>() {
      D* a = static_cast<D*>(acc.impl()->storage->data) + acc.offset();
      const S* s = static_cast<const S*>(g.impl()->storage->data) + g.offset();
      strided_loop<2>(acc.shape(), {acc.strides(), g.strides()}, [&](auto off, int64_t n, auto step) {
        for (int64_t j = 0; j < n; ++j) a[off[0] + j * step[0]] += D(s[off[1] + j * step[1]]);
      });
    });
  });
}

}  // namespace hqlt
