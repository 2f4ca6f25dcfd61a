#include "engine/cuda/copy.h"

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"

namespace hqlt::cuda {
namespace {

// Operand 0 is dst, operand 1 is src. With `add`, dst += src instead of dst = src.
template <typename D, typename S>
__global__ void copy_kernel(StridedGeometry g, int64_t n, D* dst, const S* src, bool add) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    offsets_of<2>(g, i, off);
    dst[off[0]] = add ? D(dst[off[0]] + D(src[off[1]])) : D(src[off[1]]);
  }
}

template <typename T>
__global__ void fill_kernel(StridedGeometry g, int64_t n, T* dst, T value) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[1];
    offsets_of<1>(g, i, off);
    dst[off[0]] = value;
  }
}

void run_copy(const char* op, const Tensor& dst, const Tensor& src, bool add) {
  HQLT_CHECK(dst.shape() == src.shape(), op, ": destination shape ", shape_str(dst.shape()),
             " differs from source shape ", shape_str(src.shape()));
  HQLT_CHECK(dst.device() == Device::cuda && src.device() == Device::cuda, op,
             ": cuda kernel expects both tensors on cuda, got ", device_name(dst.device()), " <- ",
             device_name(src.device()));
  const int64_t n = dst.numel();
  if (n == 0) return;
  StridedGeometry g = make_geometry(op, dst.shape(), {dst.strides(), src.strides()});
  dispatch_all(dst.dtype(), [&]<typename D>() {
    dispatch_all(src.dtype(), [&]<typename S>() {
      copy_kernel<D, S><<<blocks_for(n), kThreads>>>(g, n, static_cast<D*>(dst.raw_data()),
                                                     static_cast<const S*>(src.raw_data()), add);
      HQLT_CUDA_CHECK_LAUNCH("copy_kernel");
    });
  });
}

}  // namespace

void copy(const Tensor& dst, const Tensor& src) { run_copy("copy", dst, src, false); }

void accumulate(const Tensor& acc, const Tensor& g) { run_copy("accumulate", acc, g, true); }

void fill(const Tensor& t, double value) {
  HQLT_CHECK(t.device() == Device::cuda, "fill: cuda kernel expects a cuda tensor, got ", device_name(t.device()));
  const int64_t n = t.numel();
  if (n == 0) return;
  StridedGeometry g = make_geometry("fill", t.shape(), {t.strides()});
  dispatch_all(t.dtype(), [&]<typename T>() {
    fill_kernel<T><<<blocks_for(n), kThreads>>>(g, n, static_cast<T*>(t.raw_data()), T(value));
    HQLT_CUDA_CHECK_LAUNCH("fill_kernel");
  });
}

}  // namespace hqlt::cuda
