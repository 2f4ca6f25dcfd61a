#include "models/delta_net_layer.h"

#include <cmath>

#include "ops/delta_rule/delta_rule.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"

namespace hqlt::models {

namespace {

DeltaNetLayer::QKActivation parse_qk_activation(const std::string& name) {
  using A = DeltaNetLayer::QKActivation;
  if (name == "silu") return A::silu;
  if (name == "relu") return A::relu;
  if (name == "elu") return A::elu_plus_one;  // the reference's "elu" is elu + 1
  return A::identity;                          // validate() admits nothing else
}

// qk_norm = "sum": each head vector divided by the sum of its entries (§4.1).
Tensor sum_normalize(const Tensor& x) { return div(x, sum(x, {-1}, /*keepdim=*/true)); }

}  // namespace

DeltaNetLayer::DeltaNetLayer(const ModelConfig& c)
    : hidden_size(checked_config(c, ModelType::delta_net, "DeltaNetLayer").hidden_size),
      num_heads(c.num_heads),
      key_dim(c.key_dim()),
      value_dim(c.value_dim()),
      head_k_dim(c.head_k_dim()),
      head_v_dim(c.head_v_dim()),
      norm_eps(c.norm_eps),
      neg_eigval(c.delta_net_neg_eigval),
      qk_activation(parse_qk_activation(c.qk_activation)),
      sum_norm(c.qk_norm == "sum") {
  const int64_t d = hidden_size;
  q_proj = register_module("q_proj", std::make_shared<nn::Linear>(d, key_dim));
  k_proj = register_module("k_proj", std::make_shared<nn::Linear>(d, key_dim));
  v_proj = register_module("v_proj", std::make_shared<nn::Linear>(d, value_dim));
  if (c.use_beta) b_proj = register_module("b_proj", std::make_shared<nn::Linear>(d, num_heads));
  if (c.use_short_conv) {
    // The q/k convs end in SiLU only when it is the qk_activation; the v conv always does (§4.1).
    const nn::ConvActivation qk_conv =
        qk_activation == QKActivation::silu ? nn::ConvActivation::silu : nn::ConvActivation::none;
    q_conv1d = register_module("q_conv1d", std::make_shared<nn::ShortConvolution>(key_dim, c.conv_size, qk_conv));
    k_conv1d = register_module("k_conv1d", std::make_shared<nn::ShortConvolution>(key_dim, c.conv_size, qk_conv));
    v_conv1d = register_module("v_conv1d", std::make_shared<nn::ShortConvolution>(value_dim, c.conv_size));
  }
  if (c.use_gate) {
    g_proj = register_module("g_proj", std::make_shared<nn::Linear>(d, value_dim));
    o_norm_gated = register_module("o_norm", std::make_shared<nn::GatedRMSNorm>(head_v_dim, norm_eps));
  } else {
    o_norm = register_module("o_norm", std::make_shared<nn::RMSNorm>(head_v_dim, norm_eps));
  }
  o_proj = register_module("o_proj", std::make_shared<nn::Linear>(value_dim, d));
}

// q or k after its projection (and conv) as heads [B, T, H, d_k]: φ of §4.1 (SiLU came with
// the conv, where there is one), then the sum normaliser with qk_norm = "sum".
Tensor DeltaNetLayer::qk_heads(const Tensor& x, int64_t b, int64_t t) const {
  Tensor y = x.reshape({b, t, num_heads, head_k_dim});
  switch (qk_activation) {
    case QKActivation::silu: y = q_conv1d ? y : silu(y); break;
    case QKActivation::relu: y = relu(y); break;
    case QKActivation::elu_plus_one: y = elu_plus_one(y); break;
    case QKActivation::identity: break;
  }
  return sum_norm ? sum_normalize(y) : y;
}

Tensor DeltaNetLayer::forward(const Tensor& x) const {
  check_mixer_input("DeltaNetLayer", x, hidden_size);
  const int64_t b = x.size(0), t = x.size(1);
  Tensor q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  if (q_conv1d) {
    q = q_conv1d->forward(q);  // conv, then SiLU if it is φ
    k = k_conv1d->forward(k);
    v = v_conv1d->forward(v);
  } else {
    v = silu(v);
  }
  q = qk_heads(q, b, t);
  k = qk_heads(k, b, t);
  v = v.reshape({b, t, num_heads, head_v_dim});
  Tensor beta = b_proj ? sigmoid(b_proj->forward(x)) : ones({b, t, num_heads}, x.dtype(), x.device());
  if (neg_eigval) beta = mul_scalar(beta, 2.0);  // β ∈ (0, 2): hqlt_neg_eigval

  auto rule = kernels_ == Kernels::fused ? delta_rule : delta_rule_reference;
  Tensor o = rule(q, k, v, beta, Tensor(), kDeltaRuleChunk, /*l2norm_qk=*/!sum_norm).o;

  Tensor y = g_proj ? o_norm_gated->forward(o, g_proj->forward(x).reshape({b, t, num_heads, head_v_dim}))
                    : o_norm->forward(o);
  return o_proj->forward(y.reshape({b, t, value_dim}));
}

// One token of the §4.2 recurrence: write (ℓ2(k), v, β) into S, then read with ℓ2(q) (with
// qk_norm = "sum", the sum-normalised k and q instead).
Tensor DeltaNetLayer::step(const Tensor& x, LayerCache& cache) const {
  check_mixer_input("DeltaNetLayer", x, hidden_size);
  const int64_t b = x.size(0), h = num_heads, dk = head_k_dim, dv = head_v_dim;
  Tensor q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  if (q_conv1d) {
    if (!cache.conv_q.defined()) {
      cache.conv_q = q_conv1d->initial_state(b);
      cache.conv_k = k_conv1d->initial_state(b);
      cache.conv_v = v_conv1d->initial_state(b);
    }
    q = q_conv1d->forward(q, cache.conv_q);  // conv, then SiLU if it is φ
    k = k_conv1d->forward(k, cache.conv_k);
    v = v_conv1d->forward(v, cache.conv_v);
  } else {
    v = silu(v);
  }
  q = qk_heads(q, b, 1);
  k = qk_heads(k, b, 1);
  Tensor beta = b_proj ? sigmoid(b_proj->forward(x)) : ones({b, 1, h}, x.dtype(), x.device());
  if (neg_eigval) beta = mul_scalar(beta, 2.0);

  std::vector<double> qv = q.to_vector(), kv = k.to_vector(), vv = v.to_vector(), bv = beta.to_vector();
  if (cache.S.empty()) cache.S.assign(size_t(b * h * dk * dv), 0.0);
  std::vector<double> o(size_t(b * h * dv));
  const double scale = 1.0 / std::sqrt(double(dk));
  for (int64_t r = 0; r < b * h; ++r) {  // r = (batch, head)
    double* S = cache.S.data() + r * dk * dv;
    if (!sum_norm) {
      l2_normalize(kv.data() + r * dk, dk);
      l2_normalize(qv.data() + r * dk, dk);
    }
    delta_write(S, kv.data() + r * dk, vv.data() + r * dv, bv[size_t(r)], dk, dv);
    state_read(S, qv.data() + r * dk, scale, dk, dv, o.data() + r * dv);  // read after write
  }
  ++cache.position;

  Tensor ot = from_vector(o, {b, 1, h, dv}, x.dtype(), x.device());
  Tensor y = g_proj ? o_norm_gated->forward(ot, g_proj->forward(x).reshape({b, 1, h, dv})) : o_norm->forward(ot);
  return o_proj->forward(y.reshape({b, 1, value_dim}));
}

}  // namespace hqlt::models
