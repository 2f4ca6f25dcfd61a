#include "nn/init.h"

#include <cmath>

#include "engine/autograd.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/rms_norm.h"
#include "nn/short_conv.h"
#include "ops/elementwise/elementwise.h"

namespace hqlt::nn {

namespace init {

void normal_(const Tensor& t, double std, Generator& gen) {
  NoGrad no_grad;
  copy_into(t, randn(t.shape(), t.dtype(), t.device(), 0.0, std, gen));
}

void uniform_(const Tensor& t, double low, double high, Generator& gen) {
  NoGrad no_grad;
  copy_into(t, rand(t.shape(), t.dtype(), t.device(), low, high, gen));
}

void constant_(const Tensor& t, double value) {
  NoGrad no_grad;
  fill(t, value);
}

void kaiming_uniform_(const Tensor& t, Generator& gen) {
  HQLT_CHECK(t.dim() >= 2, "kaiming_uniform_: expected a tensor with at least 2 dims, got shape ",
             shape_str(t.shape()));
  int64_t fan_in = t.numel() / t.size(0);
  // gain = √(2 / (1 + a²)) = √(1/3) for a = √5; bound = √3 · gain / √fan_in = 1 / √fan_in.
  double bound = 1.0 / std::sqrt(double(fan_in));
  uniform_(t, -bound, bound, gen);
}

}  // namespace init

namespace {

// The per-type rule of §6 for one module's own parameters.
void init_module(Module& m, double range, Generator& gen) {
  if (auto* linear = dynamic_cast<Linear*>(&m)) {
    init::normal_(linear->weight, range, gen);
    if (linear->bias) init::constant_(*linear->bias, 0.0);
  } else if (auto* conv = dynamic_cast<ShortConvolution*>(&m)) {
    init::normal_(conv->weight, range, gen);
  } else if (auto* emb = dynamic_cast<Embedding*>(&m)) {
    init::normal_(emb->weight, range, gen);
  } else if (auto* norm = dynamic_cast<RMSNorm*>(&m)) {
    init::constant_(norm->weight, 1.0);
  } else if (auto* gated = dynamic_cast<GatedRMSNorm*>(&m)) {
    init::constant_(gated->weight, 1.0);
  }
}

// The residual projection the reference rescales for this module: its "o_proj", else its
// "down_proj" (hasattr order in _init_weights), when that is a Linear.
Linear* residual_projection(Module& m) {
  for (const char* wanted : {"o_proj", "down_proj"})
    for (auto& [name, child] : m.children())
      if (name == wanted)
        if (auto* linear = dynamic_cast<Linear*>(child.get())) return linear;
  return nullptr;
}

void visit(Module& m, const InitConfig& cfg, Generator& gen) {
  for (auto& [name, child] : m.children()) visit(*child, cfg, gen);
  init_module(m, cfg.initializer_range, gen);
  if (cfg.residual == ResidualInit::none) return;
  Linear* p = residual_projection(m);
  if (!p) return;
  if (cfg.residual == ResidualInit::zero) {
    init::constant_(p->weight, 0.0);
    return;
  }
  init::kaiming_uniform_(p->weight, gen);
  NoGrad no_grad;
  double scale = 1.0 / std::sqrt(double(cfg.num_residuals_per_layer * cfg.num_hidden_layers));
  copy_into(p->weight, mul_scalar(p->weight.detach(), scale));
}

}  // namespace

void init_weights(Module& model, const InitConfig& cfg, Generator& gen) {
  HQLT_CHECK(cfg.initializer_range >= 0, "init_weights: initializer_range must be >= 0, got ",
             cfg.initializer_range);
  HQLT_CHECK(cfg.num_hidden_layers >= 1 && cfg.num_residuals_per_layer >= 1,
             "init_weights: num_hidden_layers and num_residuals_per_layer must be >= 1, got ", cfg.num_hidden_layers,
             " and ", cfg.num_residuals_per_layer);
  visit(model, cfg, gen);
}

}  // namespace hqlt::nn
