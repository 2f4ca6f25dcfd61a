#include "gradcheck.h"

#include <cmath>
#include <sstream>

#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/views.h"

namespace hqlt::testing {
namespace {

// Element i (row-major logical index) of t, addressed through its strides.
double* element_address(const Tensor& t, int64_t i) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (i % t.shape()[size_t(d)]) * t.strides()[size_t(d)];
    i /= t.shape()[size_t(d)];
  }
  return t.data<double>() + off;
}

// loss = Σ out ⊙ w, with w drawn once per check from a fixed seed.
double weighted_sum(const Tensor& out, const Tensor& w) {
  std::vector<double> o = out.to_vector(), wv = w.to_vector();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * wv[i];
  return s;
}

Tensor make_weights(const Tensor& out) {
  Generator gen{20260101, 0};
  return rand(out.shape(), DType::f64, Device::cpu, 0.5, 1.5, gen);
}

std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs, DType dtype) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    if (!is_floating(t.dtype())) {
      out.push_back(t);
      continue;
    }
    // Keep the input's layout (strides), so non-contiguous cases stay non-contiguous.
    Tensor copy = t.dtype() == dtype ? t.detach() : to_dtype(t.detach(), dtype);
    if (!t.is_contiguous() && copy.is_contiguous()) {
      int64_t n = t.dim();
      if (n >= 2) {
        std::vector<int64_t> perm(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) perm[size_t(i)] = i;
        std::swap(perm[size_t(n - 1)], perm[size_t(n - 2)]);
        copy = clone_contiguous(copy.permute(perm)).permute(perm);
      }
    }
    copy.set_requires_grad(t.requires_grad());
    out.push_back(copy);
  }
  return out;
}

}  // namespace

CheckResult gradcheck(const OpFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  std::vector<Tensor> xs = fresh_leaves(inputs, DType::f64);
  Tensor out = f(xs);
  Tensor w = make_weights(out);
  Tensor loss = sum(mul(out, w));
  if (loss.requires_grad()) loss.backward();

  CheckResult result;
  std::ostringstream report;
  double worst = -1;
  NoGrad no_grad;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    if (!x.requires_grad()) continue;
    Tensor g = x.grad();
    std::vector<double> analytic = g.defined() ? g.to_vector() : std::vector<double>(size_t(x.numel()), 0.0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      double* p = element_address(x, i);
      double saved = *p;
      *p = saved + opt.eps;
      double up = weighted_sum(f(xs), w);
      *p = saved - opt.eps;
      double down = weighted_sum(f(xs), w);
      *p = saved;
      double numeric = (up - down) / (2 * opt.eps);
      double err = std::abs(analytic[size_t(i)] - numeric);
      double allowed = opt.atol + opt.rtol * std::abs(numeric);
      double ratio = err / allowed;
      if (std::isnan(err)) ratio = INFINITY;
      if (ratio > worst) {
        worst = ratio;
        std::ostringstream at;
        at << "input " << k << " element " << i << ": analytic " << analytic[size_t(i)] << ", numeric " << numeric
           << ", |diff| " << err << " (allowed " << allowed << ")";
        result.report = at.str();
      }
      if (!(err <= allowed)) result.ok = false;
    }
  }
  result.worst_error = worst;
  if (worst < 0) {
    result.ok = false;
    result.report = "no input requires grad: nothing was checked";
  }
  return result;
}

CheckResult compare_f32_with_f64(const OpFn& f, const std::vector<Tensor>& inputs, double tol) {
  std::vector<Tensor> x64 = fresh_leaves(inputs, DType::f64);
  std::vector<Tensor> x32 = fresh_leaves(inputs, DType::f32);
  Tensor out64 = f(x64), out32 = f(x32);
  CheckResult result;
  HQLT_CHECK(out32.dtype() == DType::f32, "compare_f32_with_f64: the op returned ", dtype_name(out32.dtype()),
             " for f32 inputs");
  Tensor w = make_weights(out64);
  sum(mul(out64, w)).backward();
  sum(mul(out32, to_dtype(w, DType::f32))).backward();
  std::ostringstream report;
  double e = max_error(out32, out64);
  report << "output " << e;
  result.worst_error = e;
  for (size_t k = 0; k < x64.size(); ++k) {
    if (!x64[k].requires_grad()) continue;
    // An input the output does not depend on gets no gradient at all: compare as zeros.
    auto grad_or_zeros = [](const Tensor& x) { return x.grad().defined() ? x.grad() : zeros_like(x); };
    double ek = max_error(grad_or_zeros(x32[k]), grad_or_zeros(x64[k]));
    report << ", grad " << k << " " << ek;
    result.worst_error = std::max(result.worst_error, ek);
  }
  result.ok = result.worst_error <= tol;
  report << " (tolerance " << tol << ")";
  result.report = report.str();
  return result;
}

Tensor leaf(const Shape& shape, double scale, DType dtype) {
  Tensor t = randn(shape, dtype, Device::cpu, 0.0, scale);
  t.set_requires_grad(true);
  return t;
}

Tensor leaf_transposed(const Shape& shape, double scale) {
  HQLT_CHECK(shape.size() >= 2, "leaf_transposed: needs at least two dims");
  Shape swapped = shape;
  std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
  Tensor base = randn(swapped, DType::f64, Device::cpu, 0.0, scale);
  Tensor t;
  {
    NoGrad no_grad;
    t = base.transpose(-1, -2).detach();
  }
  t.set_requires_grad(true);
  return t;
}

Tensor leaf_copy(const Tensor& t, DType dt, bool strided, Device device) {
  if (!t.defined()) return Tensor();
  NoGrad no_grad;
  Tensor x = to_dtype(t, dt).to(device);
  x = strided && x.dim() >= 2 ? clone_contiguous(x.transpose(-1, -2)).transpose(-1, -2) : clone_contiguous(x);
  x = x.detach();
  x.set_requires_grad(true);
  return x;
}

Tensor leaf_uniform(const Shape& shape, double low, double high) {
  Tensor t = rand(shape, DType::f64, Device::cpu, low, high);
  t.set_requires_grad(true);
  return t;
}

}  // namespace hqlt::testing
