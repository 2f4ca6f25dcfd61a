#include "nn/weight_average.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/elementwise/elementwise.h"

namespace hqlt::nn {

void update_average(const std::vector<Tensor>& average, const std::vector<Tensor>& weights, double decay) {
  HQLT_CHECK(decay >= 0 && decay < 1, "update_average: decay must be in [0, 1), got ", decay);
  HQLT_CHECK(average.size() == weights.size(), "update_average: ", average.size(), " averages for ", weights.size(),
             " weights");
  NoGrad no_grad;
  for (size_t i = 0; i < average.size(); ++i) {
    const Tensor& a = average[i];
    const Tensor& w = weights[i];
    HQLT_CHECK(a.shape() == w.shape() && a.dtype() == w.dtype() && a.device() == w.device(),
               "update_average: the average and the weights of parameter ", i, " differ in shape, dtype or device");
    copy_into(a, add(mul_scalar(a, decay), mul_scalar(w, 1 - decay)));
  }
}

}  // namespace hqlt::nn
