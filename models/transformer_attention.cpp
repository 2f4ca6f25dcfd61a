#include "models/transformer_attention.h"

#include <cmath>

#include "ops/attention/attention.h"

namespace hqlt::models {

TransformerAttention::TransformerAttention(const ModelConfig& c)
    : hidden_size(checked_config(c, ModelType::transformer, "TransformerAttention").hidden_size),
      num_heads(c.num_heads),
      num_kv_heads(c.kv_heads()),
      head_dim(c.hidden_size / c.num_heads),
      window(c.window_size.value_or(-1)),
      rotary(c.hidden_size / c.num_heads, c.rope_theta) {
  const int64_t d = hidden_size, kv = num_kv_heads * head_dim;
  q_proj = register_module("q_proj", std::make_shared<nn::Linear>(d, d, c.qkv_bias));
  k_proj = register_module("k_proj", std::make_shared<nn::Linear>(d, kv, c.qkv_bias));
  v_proj = register_module("v_proj", std::make_shared<nn::Linear>(d, kv, c.qkv_bias));
  if (c.transformer_qk_norm) {
    // The reference builds these norms without passing its norm_eps, so they keep 1e-5 (§3).
    q_norm = register_module("q_norm", std::make_shared<nn::RMSNorm>(head_dim, 1e-5));
    k_norm = register_module("k_norm", std::make_shared<nn::RMSNorm>(head_dim, 1e-5));
  }
  o_proj = register_module("o_proj", std::make_shared<nn::Linear>(d, d));
}

TransformerAttention::QKV TransformerAttention::project(const Tensor& x, int64_t position) const {
  const int64_t b = x.size(0), t = x.size(1);
  Tensor q = q_proj->forward(x).reshape({b, t, num_heads, head_dim});
  Tensor k = k_proj->forward(x).reshape({b, t, num_kv_heads, head_dim});
  if (q_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  return {rotary.forward(q, position), rotary.forward(k, position),
          v_proj->forward(x).reshape({b, t, num_kv_heads, head_dim})};
}

Tensor TransformerAttention::forward(const Tensor& x) const {
  check_mixer_input("TransformerAttention", x, hidden_size);
  const int64_t b = x.size(0), t = x.size(1);
  auto [q, k, v] = project(x, 0);  // k, v keep their H_kv heads: the op shares them (GQA)

  const double scale = 1.0 / std::sqrt(double(head_dim));
  Tensor o = kernels_ == Kernels::fused ? attention(q, k, v, /*causal=*/true, window, scale)
                                        : attention_reference(q, k, v, /*causal=*/true, window, scale);
  return o_proj->forward(o.reshape({b, t, hidden_size}));
}

// One token against the cache of every earlier RoPE'd key and value (the last W with a
// window): query head h reads kv head h / G, as in forward().
Tensor TransformerAttention::step(const Tensor& x, LayerCache& cache) const {
  check_mixer_input("TransformerAttention", x, hidden_size);
  const int64_t b = x.size(0), d = head_dim, groups = num_heads / num_kv_heads;
  const QKV p = project(x, cache.position);
  std::vector<double> q = p.q.to_vector();
  cache.keys.push_back(p.k.to_vector());
  cache.values.push_back(p.v.to_vector());
  if (window > 0) {
    keep_last(cache.keys, window);
    keep_last(cache.values, window);
  }
  ++cache.position;

  const double scale = 1.0 / std::sqrt(double(d));
  std::vector<double> o(size_t(b * num_heads * d));
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < num_heads; ++h) {
      const int64_t kv_off = (bi * num_kv_heads + h / groups) * d, q_off = (bi * num_heads + h) * d;
      attend_cached(q.data() + q_off, cache.keys, cache.values, kv_off, kv_off, d, d, scale, o.data() + q_off);
    }
  return o_proj->forward(from_vector(o, {b, 1, hidden_size}, x.dtype(), x.device()));
}

}  // namespace hqlt::models
