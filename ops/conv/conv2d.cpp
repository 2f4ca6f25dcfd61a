#include "ops/conv/conv2d.h"

#include <vector>

#include "engine/device.h"
#include "engine/parallel.h"
#include "ops/conv/conv2d_cuda.h"
#include "ops/conv/conv2d_math.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace {

using autograd::TensorList;
using detail::Conv2dShape;
using ops::contiguous_detached;
constexpr const char* kOp = "conv2d";

// out[e] = f(e) for every e < n, one element per iteration: the order of every sum is the
// per-element function's, whatever the thread count.
template <typename T, typename F>
void for_each_element(int64_t n, int64_t work_per_element, T* out, const F& f) {
#pragma omp parallel for schedule(static) if (should_parallelize(n * work_per_element))
  for (int64_t e = 0; e < n; ++e) out[e] = f(e);
}

void forward_on_device(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dShape& s, const Tensor& y) {
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) return detail::conv2d_forward_cuda(x, w, b, s, y);
  }
  dispatch_float(x.dtype(), kOp, [&]<typename T>() {
    const T *px = x.data<T>(), *pw = w.data<T>(), *pb = b.defined() ? b.data<T>() : nullptr;
    for_each_element(s.output_numel(), s.taps(), y.data<T>(),
                     [&](int64_t e) { return detail::conv2d_output(px, pw, pb, s, e); });
  });
}

void input_grad_on_device(const Tensor& dy, const Tensor& w, const Conv2dShape& s, const Tensor& dx) {
  if constexpr (kWithCuda) {
    if (dy.device() == Device::cuda) return detail::conv2d_input_grad_cuda(dy, w, s, dx);
  }
  dispatch_float(dy.dtype(), kOp, [&]<typename T>() {
    const T *pdy = dy.data<T>(), *pw = w.data<T>();
    for_each_element(s.input_numel(), s.out_channels * s.kernel_h * s.kernel_w, dx.data<T>(),
                     [&](int64_t e) { return detail::conv2d_input_grad(pdy, pw, s, e); });
  });
}

// dw and db (either may be undefined): partial sums per block of images, then their totals.
void param_grads_on_device(const Tensor& dy, const Tensor& x, const Conv2dShape& s, const Tensor& dw,
                           const Tensor& db) {
  if constexpr (kWithCuda) {
    if (dy.device() == Device::cuda) return detail::conv2d_param_grads_cuda(dy, x, s, dw, db);
  }
  const int64_t blocks = detail::conv2d_image_blocks(s), plane = s.out_h() * s.out_w();
  dispatch_float(dy.dtype(), kOp, [&]<typename T>() {
    const T* pdy = dy.data<T>();
    if (dw.defined()) {
      std::vector<T> partial(size_t(blocks * s.weight_numel()));
      const T* px = x.data<T>();
      for_each_element(blocks * s.weight_numel(), detail::kConv2dImagesPerBlock * plane, partial.data(),
                       [&](int64_t e) { return detail::conv2d_weight_grad_partial(pdy, px, s, e); });
      for_each_element(s.weight_numel(), blocks, dw.data<T>(), [&](int64_t e) {
        return detail::conv2d_blocks_total(partial.data(), s.weight_numel(), s, e);
      });
    }
    if (db.defined()) {
      std::vector<T> partial(size_t(blocks * s.out_channels));
      for_each_element(blocks * s.out_channels, detail::kConv2dImagesPerBlock * plane, partial.data(),
                       [&](int64_t e) { return detail::conv2d_bias_grad_partial(pdy, s, e); });
      for_each_element(s.out_channels, blocks, db.data<T>(), [&](int64_t e) {
        return detail::conv2d_blocks_total(partial.data(), s.out_channels, s, e);
      });
    }
  });
}

void check_arguments(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  ops::check_rank(kOp, "x", x, 4);
  ops::check_floating(kOp, "x", x);
  ops::check_rank(kOp, "weight", weight, 4);
  ops::check_same_kind(kOp, "x", x, "weight", weight);
  ops::check_device_built(kOp, x);
  HQLT_CHECK(weight.size(1) == x.size(1), kOp, ": argument 'weight': expected dim 1 == ", x.size(1),
             " (the channels of x [N, C, H, W]), got shape ", shape_str(weight.shape()));
  HQLT_CHECK(weight.size(2) >= 1 && weight.size(3) >= 1 && weight.size(2) <= x.size(2) && weight.size(3) <= x.size(3),
             kOp, ": argument 'weight': expected a kernel of at least 1 x 1 that fits in x's ", x.size(2), " x ",
             x.size(3), " (no padding), got shape ", shape_str(weight.shape()));
  if (bias.defined()) {
    ops::check_rank(kOp, "bias", bias, 1);
    ops::check_same_kind(kOp, "x", x, "bias", bias);
    HQLT_CHECK(bias.size(0) == weight.size(0), kOp, ": argument 'bias': expected shape [", weight.size(0),
               "] (the output channels), got shape ", shape_str(bias.shape()));
  }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_arguments(x, weight, bias);
  const Conv2dShape s{x.size(0), x.size(1), x.size(2), x.size(3), weight.size(0), weight.size(2), weight.size(3)};
  const Tensor xc = contiguous_detached(x), wc = contiguous_detached(weight);
  const Tensor bc = bias.defined() ? contiguous_detached(bias) : Tensor();
  Tensor y = empty({s.images, s.out_channels, s.out_h(), s.out_w()}, x.dtype(), x.device());
  forward_on_device(xc, wc, bc, s, y);

  if (autograd::needs_grad({x, weight, bias})) {
    const Tensor saved_x = weight.requires_grad() ? xc : Tensor();
    const Tensor saved_w = x.requires_grad() ? wc : Tensor();
    autograd::record(kOp, {x, weight, bias}, {y}, [s, saved_x, saved_w](const TensorList& g, const std::vector<bool>& needs) {
      TensorList grads(3);
      const Tensor dy = contiguous_detached(g[0]);
      if (needs[0]) {
        grads[0] = empty({s.images, s.in_channels, s.height, s.width}, dy.dtype(), dy.device());
        input_grad_on_device(dy, saved_w, s, grads[0]);
      }
      if (needs[1]) grads[1] = empty({s.out_channels, s.in_channels, s.kernel_h, s.kernel_w}, dy.dtype(), dy.device());
      if (needs[2]) grads[2] = empty({s.out_channels}, dy.dtype(), dy.device());
      if (grads[1].defined() || grads[2].defined()) param_grads_on_device(dy, saved_x, s, grads[1], grads[2]);
      return grads;
    });
  }
  return y;
}

}  // namespace hqlt
