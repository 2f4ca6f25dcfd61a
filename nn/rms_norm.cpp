#include "nn/rms_norm.h"

#include "ops/elementwise/elementwise.h"
#include "ops/norm/norm.h"

namespace hqlt::nn {
namespace {

Tensor ones_checked(const char* who, int64_t size, double eps) {
  HQLT_CHECK(size >= 1, who, ": expected size >= 1, got ", size);
  HQLT_CHECK(eps >= 0, who, ": expected eps >= 0, got ", eps);
  return ones({size});
}

void check_input(const char* who, const char* arg, const Tensor& x, const Tensor& weight) {
  HQLT_CHECK(x.defined(), who, ": argument '", arg, "' is undefined");
  HQLT_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(0), who, ": argument '", arg, "': expected last dim ",
             weight.size(0), ", got shape ", shape_str(x.shape()));
}

}  // namespace

RMSNorm::RMSNorm(int64_t n, double e)
    : size(n), eps(e), weight(register_parameter("weight", ones_checked("RMSNorm", n, e))) {}

Tensor RMSNorm::forward(const Tensor& x) const {
  check_input("RMSNorm", "x", x, weight);
  return rms_norm(x, weight, eps);
}

GatedRMSNorm::GatedRMSNorm(int64_t n, double e)
    : size(n), eps(e), weight(register_parameter("weight", ones_checked("GatedRMSNorm", n, e))) {}

Tensor GatedRMSNorm::forward(const Tensor& x, const Tensor& g) const {
  check_input("GatedRMSNorm", "x", x, weight);
  HQLT_CHECK(g.defined(), "GatedRMSNorm: argument 'g' is undefined");
  HQLT_CHECK(g.shape() == x.shape(), "GatedRMSNorm: argument 'g': expected the shape of x ", shape_str(x.shape()),
             ", got ", shape_str(g.shape()));
  return swiglu(g, rms_norm(x, weight, eps));
}

}  // namespace hqlt::nn
