#include "train/numerical_faults.h"

#include "engine/error.h"

namespace hqlt::train {

std::string non_finite_gradient(const nn::Module& model) {
  for (const auto& [name, param] : model.named_parameters()) {
    const Tensor grad = param.grad();
    if (!grad.defined()) continue;
    const int64_t bad = count_non_finite(grad);
    if (bad > 0)
      return detail::concat("the gradient of '", name, "' has ", bad, " non-finite value", bad == 1 ? "" : "s",
                            " (of ", grad.numel(), ")");
  }
  return "";
}

}  // namespace hqlt::train
