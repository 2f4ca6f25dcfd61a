#pragma once
// Initialisation for training from scratch, as the reference's _init_weights
// (docs/math/models.md §6), plus the in-place fillers it is made of.
//
// init_weights(model, config) visits every module, sub-modules before their parent (the
// order of PyTorch's Module.apply), and
//   * Linear: weight ~ N(0, initializer_range²), bias (if any) = 0;
//   * ShortConvolution: weight ~ N(0, initializer_range²) (not PyTorch's Conv1d default);
//   * Embedding: weight ~ N(0, initializer_range²); the padding_idx row is NOT zeroed;
//   * RMSNorm / GatedRMSNorm: weight = 1;
//   * any other module's own parameters are left as constructed (e.g. HQLT's fw_scale and
//     kv_scale, which their layer creates as 1).
// Then, for ResidualInit::rescale (delta_net and hybrid_qlt), every module that has a
// sub-module named "o_proj" — else one named "down_proj" — has that Linear's weight redrawn
// from U(−1/√fan_in, +1/√fan_in) (PyTorch's kaiming_uniform_ with a = √5; fan_in = the
// weight's second dim: value_dim for o_proj, I for down_proj) and divided by
// √(num_residuals_per_layer · num_hidden_layers) = √(2L). ResidualInit::zero sets those
// weights to 0 instead; ResidualInit::none (transformer) leaves them normal.
//
// Draws come from a Philox generator, so the values are reproducible from the seed (they
// are not PyTorch's bits: same distributions, different stream).
#include <cstdint>

#include "engine/rng.h"
#include "nn/module.h"

namespace hqlt::nn {

namespace init {
// In-place fills (under NoGrad; the tensor keeps its identity, dtype and device).
void normal_(const Tensor& t, double std, Generator& gen = default_generator());
void uniform_(const Tensor& t, double low, double high, Generator& gen = default_generator());
void constant_(const Tensor& t, double value);
// U(±1/√fan_in) with fan_in = t.size(1) · (product of dims past 1), PyTorch's
// kaiming_uniform_(t, a=√5).
void kaiming_uniform_(const Tensor& t, Generator& gen = default_generator());
}  // namespace init

enum class ResidualInit { none, rescale, zero };

struct InitConfig {
  double initializer_range = 0.02;
  ResidualInit residual = ResidualInit::rescale;
  int64_t num_hidden_layers = 1;
  int64_t num_residuals_per_layer = 2;  // attention + MLP per block
};

void init_weights(Module& model, const InitConfig& config, Generator& gen = default_generator());

}  // namespace hqlt::nn
