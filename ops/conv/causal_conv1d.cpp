#include "ops/conv/causal_conv1d.h"

#include <algorithm>
#include <vector>

#include "engine/device.h"
#include "engine/parallel.h"
#include "ops/conv/causal_conv1d_cuda.h"
#include "ops/conv/causal_conv1d_math.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace {

using autograd::TensorList;
constexpr const char* kOp = "causal_conv1d";

using detail::ConvShape;
using ops::contiguous_detached;

// weight [Ch, K] or [Ch, 1, K] as taps [K, Ch], contiguous: tap j of every channel sits in
// one row, so the inner loop over channels reads both x and the taps with unit stride.
Tensor taps_by_row(const Tensor& weight) {
  const int64_t last = weight.dim() - 1;
  Tensor view = as_strided(weight, {weight.size(last), weight.size(0)},
                           {weight.strides()[size_t(last)], weight.strides()[0]}, weight.offset());
  return clone_contiguous(view);
}

// out[b, t, c] = Σ_j taps[j, c] · in[b, t ∓ (K-1-j), c], reading zeros outside 0..T-1.
// Causal (−): the forward convolution. Anti-causal (+): its transpose, which is dx.
// Each output row is independent, so rows are split across threads.
template <typename T>
void shifted_tap_sum(const T* in, const T* taps, T* out, const ConvShape& s, bool anti_causal) {
  const int64_t Ch = s.channels, K = s.taps, Tn = s.time;
#pragma omp parallel for schedule(static) if (should_parallelize(s.work()))
  for (int64_t r = 0; r < s.rows(); ++r) {
    const int64_t b = r / Tn, t = r % Tn;
    T* o = out + r * Ch;
    std::fill(o, o + Ch, T(0));
    for (int64_t j = 0; j < K; ++j) {
      const int64_t lag = K - 1 - j;
      const int64_t src = anti_causal ? t + lag : t - lag;
      if (src < 0 || src >= Tn) continue;
      const T* xi = in + (b * Tn + src) * Ch;
      const T* w = taps + j * Ch;
      for (int64_t c = 0; c < Ch; ++c) o[c] += w[c] * xi[c];
    }
  }
}

// Rows of (b, t) per block of the dw reduction (causal_conv1d_math.h): the CUDA kernel
// reduces in the same blocks and the same order.
constexpr int64_t kRowsPerBlock = detail::kConvRowsPerBlock;

// dw[c, j] = Σ_{b,t} dy[b, t, c] · x[b, t-(K-1)+j, c], written into dw [Ch, K] contiguous.
template <typename T>
void weight_gradient(const T* dy, const T* x, T* dw, const ConvShape& s) {
  const int64_t Ch = s.channels, K = s.taps, Tn = s.time;
  const int64_t blocks = (s.rows() + kRowsPerBlock - 1) / kRowsPerBlock;
  // One [K, Ch] partial sum per block.
  std::vector<T> partial(size_t(blocks * K * Ch), T(0));
#pragma omp parallel for schedule(static) if (should_parallelize(s.work()))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    T* p_blk = partial.data() + blk * K * Ch;
    const int64_t end = std::min(s.rows(), (blk + 1) * kRowsPerBlock);
    for (int64_t r = blk * kRowsPerBlock; r < end; ++r) {
      const int64_t b = r / Tn, t = r % Tn;
      const T* g = dy + r * Ch;
      for (int64_t j = std::max<int64_t>(0, K - 1 - t); j < K; ++j) {
        const T* xi = x + (b * Tn + t - (K - 1 - j)) * Ch;
        T* p = p_blk + j * Ch;
        for (int64_t c = 0; c < Ch; ++c) p[c] += g[c] * xi[c];
      }
    }
  }
  std::vector<T> total(size_t(K * Ch), T(0));
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const T* p = partial.data() + blk * K * Ch;
    for (int64_t i = 0; i < K * Ch; ++i) total[size_t(i)] += p[i];
  }
  for (int64_t c = 0; c < Ch; ++c)
    for (int64_t j = 0; j < K; ++j) dw[c * K + j] = total[size_t(j * Ch + c)];
}

// The kernels of the tensors' device: the loops above, or causal_conv1d.cu.
void tap_sum_on_device(const Tensor& in, const Tensor& taps, const ConvShape& s, bool anti_causal, const Tensor& out) {
  if constexpr (kWithCuda) {
    if (in.device() == Device::cuda) return detail::conv_shifted_tap_sum_cuda(in, taps, s, anti_causal, out);
  }
  dispatch_float(in.dtype(), kOp, [&]<typename T>() {
    shifted_tap_sum<T>(in.data<T>(), taps.data<T>(), out.data<T>(), s, anti_causal);
  });
}

void weight_gradient_on_device(const Tensor& dy, const Tensor& x, const ConvShape& s, const Tensor& dw) {
  if constexpr (kWithCuda) {
    if (dy.device() == Device::cuda) return detail::conv_weight_gradient_cuda(dy, x, s, dw);
  }
  dispatch_float(dy.dtype(), kOp, [&]<typename T>() { weight_gradient<T>(dy.data<T>(), x.data<T>(), dw.data<T>(), s); });
}

void check_arguments(const Tensor& x, const Tensor& weight) {
  ops::check_rank(kOp, "x", x, 3);
  ops::check_floating(kOp, "x", x);
  ops::check_defined(kOp, "weight", weight);
  HQLT_CHECK(weight.dim() == 2 || weight.dim() == 3, kOp,
             ": argument 'weight': expected rank 2 [Ch, K] or rank 3 [Ch, 1, K], got shape ",
             shape_str(weight.shape()));
  ops::check_same_kind(kOp, "x", x, "weight", weight);
  ops::check_device_built(kOp, x);
  HQLT_CHECK(weight.dim() == 2 || weight.size(1) == 1, kOp,
             ": argument 'weight': expected shape [Ch, 1, K] (one input channel per group), got shape ",
             shape_str(weight.shape()));
  HQLT_CHECK(weight.size(0) == x.size(2), kOp, ": argument 'weight': expected dim 0 == ", x.size(2),
             " (the channels of x [B, T, Ch]), got shape ", shape_str(weight.shape()));
  HQLT_CHECK(weight.size(-1) >= 1, kOp, ": argument 'weight': expected kernel size K >= 1, got shape ",
             shape_str(weight.shape()));
}

}  // namespace

Tensor causal_conv1d(const Tensor& x, const Tensor& weight) {
  check_arguments(x, weight);
  const ConvShape s{x.size(0), x.size(1), x.size(2), weight.size(-1)};
  Tensor xc = contiguous_detached(x);
  Tensor taps = taps_by_row(weight);
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  tap_sum_on_device(xc, taps, s, /*anti_causal=*/false, y);

  if (autograd::needs_grad({x, weight})) {
    // Save only what the wanted gradients read: dx needs the taps, dw needs x.
    Tensor saved_x = weight.requires_grad() ? xc : Tensor();
    Tensor saved_taps = x.requires_grad() ? taps : Tensor();
    const Shape weight_shape = weight.shape();
    autograd::record(kOp, {x, weight}, {y},
                     [s, saved_x, saved_taps, weight_shape](const TensorList& g, const std::vector<bool>& needs) {
                       TensorList grads(2);
                       Tensor dy = contiguous_detached(g[0]);
                       if (needs[0]) {
                         grads[0] = empty({s.batch, s.time, s.channels}, dy.dtype(), dy.device());
                         tap_sum_on_device(dy, saved_taps, s, /*anti_causal=*/true, grads[0]);
                       }
                       if (needs[1]) {
                         grads[1] = empty(weight_shape, dy.dtype(), dy.device());
                         weight_gradient_on_device(dy, saved_x, s, grads[1]);
                       }
                       return grads;
                     });
  }
  return y;
}

}  // namespace hqlt
