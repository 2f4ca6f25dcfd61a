#include "ops/loss/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/device.h"
#include "engine/parallel.h"
#include "ops/loss/cross_entropy_cuda.h"
#include "ops/loss/cross_entropy_math.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace {

namespace cm = detail::ce_math;
using autograd::TensorList;
using Needs = std::vector<bool>;

constexpr const char* kOp = "cross_entropy";

// Checks every argument; returns logits' leading shape (the shape of targets and mask).
Shape check_args(const Tensor& logits, const Tensor& targets, const Tensor& mask) {
  ops::check_floating(kOp, "logits", logits);
  ops::check_device_built(kOp, logits);
  HQLT_CHECK(logits.dim() >= 1 && logits.size(-1) >= 1, kOp,
             ": argument 'logits': expected shape [..., V] with V >= 1, got ", shape_str(logits.shape()));
  const Shape lead(logits.shape().begin(), logits.shape().end() - 1);

  ops::check_defined(kOp, "targets", targets);
  HQLT_CHECK(targets.dtype() == DType::i32 || targets.dtype() == DType::i64, kOp,
             ": argument 'targets': expected dtype i32 or i64, got ", dtype_name(targets.dtype()));
  ops::check_device_built(kOp, targets);
  HQLT_CHECK(targets.shape() == lead, kOp, ": argument 'targets': expected shape ", shape_str(lead),
             " (logits' shape without its last dim), got ", shape_str(targets.shape()));

  if (mask.defined()) {
    ops::check_same_kind(kOp, "logits", logits, "mask", mask);
    HQLT_CHECK(mask.shape() == lead, kOp, ": argument 'mask': expected shape ", shape_str(lead),
               " (the shape of targets), got ", shape_str(mask.shape()));
  }
  return lead;
}

// The targets as a contiguous i64 tensor, each checked to be a class index or ignored.
Tensor checked_targets(const Tensor& targets, int64_t v, int64_t ignore_index) {
  Tensor t = empty(targets.shape(), DType::i64);
  copy_into(t, targets);
  const int64_t* tp = t.data<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    HQLT_CHECK(tp[i] == ignore_index || (tp[i] >= 0 && tp[i] < v), kOp, ": argument 'targets': value ", tp[i],
               " at position ", i, " is out of range [0, ", v, ") and is not ignore_index (", ignore_index, ")");
  }
  return t;
}

// The weight w_i of every row: 0 where the target is ignored, else mask_i (or 1).
std::vector<double> row_weights(const Tensor& targets, const Tensor& mask, int64_t ignore_index) {
  const int64_t n = targets.numel();
  const int64_t* tp = targets.data<int64_t>();
  std::vector<double> w(size_t(n), 1.0);
  if (mask.defined()) {
    std::vector<double> m = mask.to_vector();
    for (int64_t i = 0; i < n; ++i) {
      HQLT_CHECK(std::isfinite(m[size_t(i)]) && m[size_t(i)] >= 0, kOp, ": argument 'mask': expected finite ",
                 "weights >= 0, got ", m[size_t(i)], " at position ", i);
      w[size_t(i)] = m[size_t(i)];
    }
  }
  for (int64_t i = 0; i < n; ++i)
    if (tp[i] == ignore_index) w[size_t(i)] = 0;
  return w;
}

// log Σ_j exp(z_j), stably: the row maximum is taken out first. −inf for an all −inf row.
template <typename T>
T log_sum_exp(const T* z, int64_t v) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < v; ++j) m = (z[j] > m || z[j] != z[j]) ? z[j] : m;  // NaN wins
  if (m == -std::numeric_limits<T>::infinity()) return m;
  T sum = 0;
  for (int64_t j = 0; j < v; ++j) sum += std::exp(z[j] - m);
  return cm::lse_finish(m, sum);
}

// What the forward pass leaves for the backward pass.
struct Saved {
  Tensor logits;   // [N, V] contiguous, detached, on logits' device
  Tensor targets;  // [N] i64, on the host (checked there)
  Tensor lse;      // [N] in logits' dtype (0 on ignored rows), on logits' device
  Tensor device_targets, device_weights;  // cuda only: targets and w_i (f64) on the card
  std::vector<double> weights;  // w_i, 0 on ignored rows
  double total_weight = 0;      // Σ w_i
  double loss = 0;
};

// Fills saved.lse and returns Σ_i w_i · nll_i (summed in row order).
template <typename T>
double forward_kernel(Saved& s, int64_t ignore_index) {
  const int64_t n = s.logits.size(0), v = s.logits.size(1);
  const T* z = s.logits.data<T>();
  const int64_t* y = s.targets.data<int64_t>();
  T* lse = s.lse.data<T>();
  std::vector<double> weighted_nll(size_t(n), 0.0);
#pragma omp parallel for schedule(static) if (should_parallelize(n * v))
  for (int64_t i = 0; i < n; ++i) {
    if (y[i] == ignore_index) {
      lse[i] = 0;
      continue;
    }
    const T* zi = z + i * v;
    lse[i] = log_sum_exp(zi, v);
    // An all-zero weight still skips the product: 0 · inf would be NaN.
    if (s.weights[size_t(i)] != 0) weighted_nll[size_t(i)] = s.weights[size_t(i)] * double(lse[i] - zi[y[i]]);
  }
  double total = 0;
  for (double x : weighted_nll) total += x;
  return total;
}

// dlogits = (softmax − onehot) · g · w_i / Σw, row by row.
template <typename T>
Tensor logits_grad(const Saved& s, double g) {
  const int64_t n = s.logits.size(0), v = s.logits.size(1);
  Tensor dz = empty({n, v}, s.logits.dtype());
  const T* z = s.logits.data<T>();
  const T* lse = s.lse.data<T>();
  const int64_t* y = s.targets.data<int64_t>();
  T* d = dz.data<T>();
#pragma omp parallel for schedule(static) if (should_parallelize(n * v))
  for (int64_t i = 0; i < n; ++i) {
    T* di = d + i * v;
    const double w = s.weights[size_t(i)];
    if (w == 0) {
      std::fill(di, di + v, T(0));
      continue;
    }
    const T scale = T(g * w / s.total_weight);
    const T* zi = z + i * v;
    for (int64_t j = 0; j < v; ++j) di[j] = cm::dlogit(zi[j], lse[i], scale, j == y[i]);
  }
  return dz;
}

// dmask_i = g · (nll_i − loss) / Σw on counted rows, 0 on ignored ones.
template <typename T>
Tensor mask_grad(const Saved& s, double g, int64_t ignore_index) {
  const int64_t n = s.logits.size(0), v = s.logits.size(1);
  Tensor dm = empty({n}, s.logits.dtype());
  const T* z = s.logits.data<T>();
  const T* lse = s.lse.data<T>();
  const int64_t* y = s.targets.data<int64_t>();
  T* d = dm.data<T>();
  for (int64_t i = 0; i < n; ++i) {
    if (y[i] == ignore_index) {
      d[i] = 0;
      continue;
    }
    d[i] = cm::dmask<T>(g, double(lse[i] - z[i * v + y[i]]), s.loss, s.total_weight);
  }
  return dm;
}

// ---- dispatch by device: the loops above, or cross_entropy.cu -------------------------

// Fills saved.lse and returns Σ_i w_i · nll_i.
double forward_on_device(Saved& s, int64_t ignore_index) {
  if constexpr (kWithCuda) {
    if (s.logits.device() == Device::cuda) {
      s.device_targets = s.targets.to(Device::cuda);
      s.device_weights = from_vector(s.weights, {int64_t(s.weights.size())}, DType::f64, Device::cuda);
      return detail::cross_entropy_forward_cuda(s.lse, s.logits, s.device_targets, s.device_weights, ignore_index);
    }
  }
  return dispatch_float(s.logits.dtype(), kOp, [&]<typename T>() { return forward_kernel<T>(s, ignore_index); });
}

// g: the loss's upstream gradient (a scalar on the logits' device).
Tensor logits_grad_on_device(const Saved& s, const Tensor& g) {
  if constexpr (kWithCuda) {
    if (s.logits.device() == Device::cuda) {
      Tensor dz = empty(s.logits.shape(), s.logits.dtype(), Device::cuda);
      detail::cross_entropy_logits_grad_cuda(dz, ops::contiguous_detached(g), s.logits, s.device_targets,
                                             s.device_weights, s.lse, s.total_weight);
      return dz;
    }
  }
  const double go = g.item();
  return dispatch_float(s.logits.dtype(), kOp, [&]<typename T>() { return logits_grad<T>(s, go); });
}

Tensor mask_grad_on_device(const Saved& s, const Tensor& g, int64_t ignore_index) {
  if constexpr (kWithCuda) {
    if (s.logits.device() == Device::cuda) {
      Tensor dm = empty({s.logits.size(0)}, s.logits.dtype(), Device::cuda);
      detail::cross_entropy_mask_grad_cuda(dm, ops::contiguous_detached(g), s.logits, s.device_targets, s.lse,
                                           ignore_index, s.total_weight, s.loss);
      return dm;
    }
  }
  const double go = g.item();
  return dispatch_float(s.logits.dtype(), kOp, [&]<typename T>() { return mask_grad<T>(s, go, ignore_index); });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index) {
  return cross_entropy(logits, targets, Tensor(), ignore_index);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& mask, int64_t ignore_index) {
  const Shape lead = check_args(logits, targets, mask);
  const int64_t v = logits.size(-1), n = numel_of(lead);

  auto saved = std::make_shared<Saved>();
  Tensor lc = logits.is_contiguous() ? logits.detach() : clone_contiguous(logits);
  saved->logits = as_strided(lc, {n, v}, {v, 1}, lc.offset());
  saved->targets = checked_targets(targets, v, ignore_index).reshape({n});
  saved->weights = row_weights(saved->targets, mask, ignore_index);
  for (double w : saved->weights) saved->total_weight += w;
  saved->lse = empty({n}, logits.dtype(), logits.device());

  const double total = forward_on_device(*saved, ignore_index);
  // Nothing counts: the loss is 0 by definition (see the header), not 0/0.
  saved->loss = saved->total_weight > 0 ? total / saved->total_weight : 0.0;
  Tensor out = full({}, saved->loss, logits.dtype(), logits.device());

  if (autograd::needs_grad({logits, mask})) {
    const Shape logits_shape = logits.shape();
    autograd::record(kOp, {logits, targets, mask}, {out},
                     [saved, logits_shape, lead, ignore_index](const TensorList& g, const Needs& needs) {
                       const bool nothing_counts = !(saved->total_weight > 0);
                       const DType dt = saved->logits.dtype();
                       const Device dev = saved->logits.device();
                       TensorList grads(3);
                       if (needs[0])
                         grads[0] = nothing_counts ? zeros(logits_shape, dt, dev)
                                                   : logits_grad_on_device(*saved, g[0]).reshape(logits_shape);
                       if (needs[2])
                         grads[2] = nothing_counts ? zeros(lead, dt, dev)
                                                   : mask_grad_on_device(*saved, g[0], ignore_index).reshape(lead);
                       return grads;
                     });
  }
  return out;
}

}  // namespace hqlt
