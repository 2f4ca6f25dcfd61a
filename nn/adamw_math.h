#pragma once
// AdamW's per-element update (nn/adamw.h has the formulas), written once for the CPU loop
// (adamw.cpp) and the CUDA kernel (nn/optim_cuda.cu), in the parameter's own type.
#include <cmath>

#include "engine/host_device.h"

namespace hqlt::nn {

// The step's constants, in T: decay = 1 − lr·wd, step_size = lr / (1 − β1^t) and
// bc2 = √(1 − β2^t) (the last two computed once per step in double).
template <typename T>
struct AdamWCoefficients {
  T decay, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, step_size, bc2;

  static AdamWCoefficients make(double lr, double wd, double beta1, double beta2, double eps, double step_size,
                                double bc2_sqrt) {
    return {T(1.0 - lr * wd), T(beta1), T(beta2), T(1.0 - beta1), T(1.0 - beta2), T(eps), T(step_size),
            T(bc2_sqrt)};
  }
};

template <typename T>
HQLT_HD inline void adamw_element(T& p, T g, T& m, T& v, const AdamWCoefficients<T>& c) {
  m = c.beta1 * m + c.one_minus_beta1 * g;
  v = c.beta2 * v + c.one_minus_beta2 * g * g;
  p = p * c.decay - c.step_size * m / (std::sqrt(v) / c.bc2 + c.eps);
}

}  // namespace hqlt::nn
