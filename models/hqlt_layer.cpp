#include "models/hqlt_layer.h"

#include <cmath>

#include "ops/attention/attention.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/linear_attention/linear_attention.h"
#include "ops/shape/pad.h"

namespace hqlt::models {

namespace {

// x delayed by `delay` steps along time, zero-padded at the start (§5.4):
// out[:, t] = x[:, t - delay] for t ≥ delay, 0 before. [B, T, H, d] -> [B, T, H, d].
Tensor delay_in_time(const Tensor& x, int64_t delay) {
  const int64_t t = x.size(1);
  if (t <= delay) return zeros(x.shape(), x.dtype(), x.device());  // nothing has arrived yet
  return pad(x.slice(1, 0, t - delay), 1, delay, 0);
}

LinearAttentionNormalizer op_normalizer(LinearNormalizer n) {
  return n == LinearNormalizer::time ? LinearAttentionNormalizer::time : LinearAttentionNormalizer::reference_heads;
}

}  // namespace

HQLTLayer::HQLTLayer(const ModelConfig& c)
    : config(checked_config(c, ModelType::hybrid_qlt, "HQLTLayer")),
      hidden_size(c.hidden_size),
      num_heads(c.num_heads),
      key_dim(c.key_dim()),
      value_dim(c.value_dim()),
      head_k_dim(c.head_k_dim()),
      head_v_dim(c.head_v_dim()) {
  const int64_t d = hidden_size;
  q_proj = register_module("q_proj", std::make_shared<nn::Linear>(d, key_dim));
  k_proj = register_module("k_proj", std::make_shared<nn::Linear>(d, key_dim));
  v_proj = register_module("v_proj", std::make_shared<nn::Linear>(d, value_dim));
  if (c.use_beta) b_proj = register_module("b_proj", std::make_shared<nn::Linear>(d, num_heads));
  if (c.use_short_conv) {
    // qk_activation = "identity": no activation after the q/k convs; SiLU after v's (§5.1).
    using nn::ConvActivation;
    q_conv1d = register_module("q_conv1d",
                               std::make_shared<nn::ShortConvolution>(key_dim, c.conv_size, ConvActivation::none));
    k_conv1d = register_module("k_conv1d",
                               std::make_shared<nn::ShortConvolution>(key_dim, c.conv_size, ConvActivation::none));
    v_conv1d = register_module("v_conv1d",
                               std::make_shared<nn::ShortConvolution>(value_dim, c.conv_size, ConvActivation::silu));
  }
  if (c.use_memory_gate) {
    const int64_t rows = c.use_memory_gate_separate ? 2 * value_dim : value_dim;
    memory_gate_proj = register_module("memory_gate_proj", std::make_shared<nn::Linear>(d, rows));
  }
  if (c.use_memory_dynamic_scaler)
    memory_mixer = register_module("memory_mixer", std::make_shared<nn::Linear>(d, 2 * num_heads));
  if (c.use_memory_scaler) {
    fw_scale = &register_parameter("fw_scale", ones({1}));
    kv_scale = &register_parameter("kv_scale", ones({1}));
  }
  if (c.use_gate) {
    g_proj = register_module("g_proj", std::make_shared<nn::Linear>(d, value_dim));
    o_norm_gated = register_module("o_norm", std::make_shared<nn::GatedRMSNorm>(head_v_dim, c.norm_eps));
  } else {
    o_norm = register_module("o_norm", std::make_shared<nn::RMSNorm>(head_v_dim, c.norm_eps));
  }
  o_proj = register_module("o_proj", std::make_shared<nn::Linear>(value_dim, d));
  // HQLT hard-codes the RoPE base 10000 (§1.5), whatever rope_theta says.
  if (c.use_local_pos_encoding) rotary = std::make_unique<nn::RotaryEmbedding>(head_k_dim, 10000.0);
}

HQLTLayer::FrontEnd HQLTLayer::front_end(const Tensor& x) const {
  const int64_t b = x.size(0), t = x.size(1);
  Tensor q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  if (q_conv1d) {
    q = q_conv1d->forward(q);
    k = k_conv1d->forward(k);
    v = v_conv1d->forward(v);  // conv, then SiLU
  } else {
    v = silu(v);
  }
  return {q.reshape({b, t, num_heads, head_k_dim}), k.reshape({b, t, num_heads, head_k_dim}),
          v.reshape({b, t, num_heads, head_v_dim})};
}

Tensor HQLTLayer::beta(const Tensor& x) const {
  Tensor b = b_proj ? sigmoid(b_proj->forward(x)) : ones({x.size(0), x.size(1), num_heads}, x.dtype(), x.device());
  // β ∈ (0, 2): the transition I − β k̂k̂ᵀ may have a negative eigenvalue (§5.1 (iv)). As in
  // the reference, the doubling follows the use_beta choice, so without b_proj β = 2.
  return config.allow_neg_eigval ? mul_scalar(b, 2.0) : b;
}

HQLTLayer::Memories HQLTLayer::memories(const Tensor& x) const {
  check_mixer_input("HQLTLayer", x, hidden_size);
  const bool fused = kernels_ == Kernels::fused;
  const int64_t c = config.chunk_size;
  const double scale = 1.0 / std::sqrt(double(head_k_dim));
  FrontEnd in = front_end(x);

  // The KV copies: RoPE'd only with use_local_pos_encoding; never any activation (§5.1 (i)).
  Tensor q_kv = rotary ? rotary->forward(in.q) : in.q;
  Tensor k_kv = rotary ? rotary->forward(in.k) : in.k;

  if (config.attn_mode == AttnMode::sync_chunk_linear) {
    // φ = elu+1 is applied to the raw q and k inside the op (§5.6); β is not used.
    auto linear = fused ? linear_attention : linear_attention_reference;
    Tensor fw = linear(in.q, in.k, in.v, kKernelChunk, op_normalizer(config.linear_normalizer), 1e-10);
    auto attend = fused ? attention : attention_reference;
    return {fw, attend(q_kv, k_kv, in.v, /*causal=*/true, /*window=*/c, scale, 0)};
  }

  // The FW copies: SiLU here, ℓ2 inside the op (§5.1 (ii)).
  Tensor q_fw = silu(in.q), k_fw = silu(in.k);
  Tensor b = beta(x);

  if (config.attn_mode == AttnMode::chunk) {
    auto hybrid = fused ? hybrid_chunk : hybrid_chunk_reference;
    HybridChunkOutput out = hybrid(q_fw, k_fw, q_kv, k_kv, in.v, b, Tensor(), c, config.fw_block_size(),
                                   /*l2norm_qk=*/true, scale);
    return {out.o_fw, out.o_kv};
  }

  auto rule = fused ? delta_rule : delta_rule_reference;
  auto attend = fused ? attention : attention_reference;
  Tensor kv = attend(q_kv, k_kv, in.v, /*causal=*/true, /*window=*/c, scale, 0);
  if (config.attn_mode == AttnMode::delayed) {
    // Keys and values enter the fast weights C steps late; q and β are not delayed (§5.4).
    Tensor fw = rule(q_fw, delay_in_time(k_fw, c), delay_in_time(in.v, c), b, Tensor(), kKernelChunk, true).o;
    return {fw, kv};
  }
  return {rule(q_fw, k_fw, in.v, b, Tensor(), kKernelChunk, true).o, kv};  // sync_chunk
}

Tensor HQLTLayer::mix(const Tensor& x, const Memories& m) const {
  const int64_t b = x.size(0), t = x.size(1), h = num_heads, dv = head_v_dim;
  if (memory_gate_proj) {
    if (config.use_memory_gate_separate) {
      // Head h's block of 2·d_v: the FW gate's d_v pre-activations, then the KV gate's.
      Tensor a = memory_gate_proj->forward(x).reshape({b, t, h, 2 * dv});
      return add(mul(sigmoid(a.slice(3, 0, dv)), m.fw), mul(sigmoid(a.slice(3, dv, 2 * dv)), m.kv));
    }
    Tensor g = sigmoid(memory_gate_proj->forward(x).reshape({b, t, h, dv}));
    return add(mul(g, m.fw), mul(1.0 - g, m.kv));
  }
  if (memory_mixer) {
    // Entries 0..H-1 scale the FW heads, H..2H-1 the KV heads (a plain split, not interleaved).
    Tensor s = sigmoid(memory_mixer->forward(x)).unsqueeze(3);  // [B, T, 2H, 1]
    return add(mul(s.slice(2, 0, h), m.fw), mul(s.slice(2, h, 2 * h), m.kv));
  }
  if (fw_scale) return add(mul(*fw_scale, m.fw), mul(*kv_scale, m.kv));
  return add(m.fw, m.kv);
}

Tensor HQLTLayer::forward(const Tensor& x) const {
  Tensor o = mix(x, memories(x));  // [B, T, H, d_v]; mixed before the norm (§5.7)
  const int64_t b = x.size(0), t = x.size(1);
  Tensor y = g_proj ? o_norm_gated->forward(o, g_proj->forward(x).reshape({b, t, num_heads, head_v_dim}))
                    : o_norm->forward(o);
  return o_proj->forward(y.reshape({b, t, value_dim}));
}

HQLTLayer::FrontEnd HQLTLayer::front_end_step(const Tensor& x, LayerCache& cache) const {
  const int64_t b = x.size(0);
  Tensor q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  if (q_conv1d) {
    if (!cache.conv_q.defined()) {
      cache.conv_q = q_conv1d->initial_state(b);
      cache.conv_k = k_conv1d->initial_state(b);
      cache.conv_v = v_conv1d->initial_state(b);
    }
    q = q_conv1d->forward(q, cache.conv_q);
    k = k_conv1d->forward(k, cache.conv_k);
    v = v_conv1d->forward(v, cache.conv_v);  // conv, then SiLU
  } else {
    v = silu(v);
  }
  return {q.reshape({b, 1, num_heads, head_k_dim}), k.reshape({b, 1, num_heads, head_k_dim}),
          v.reshape({b, 1, num_heads, head_v_dim})};
}

// One token of each memory of §5.3–5.6 from the cache (decode_state.h says what each mode
// keeps), then the same mix, norm and projection as forward().
Tensor HQLTLayer::step(const Tensor& x, LayerCache& cache) const {
  check_mixer_input("HQLTLayer", x, hidden_size);
  const int64_t b = x.size(0), h = num_heads, dk = head_k_dim, dv = head_v_dim, c = config.chunk_size;
  const int64_t t = cache.position;  // this token's absolute position
  const double scale = 1.0 / std::sqrt(double(dk));
  const AttnMode mode = config.attn_mode;
  FrontEnd in = front_end_step(x, cache);
  std::vector<double> v = in.v.to_vector();

  // KV memory: the last C tokens including t (§5.2 SWA_C), or t's attention chunk only (CA_C).
  if (mode == AttnMode::chunk && t % c == 0) {
    cache.keys.clear();
    cache.values.clear();
  }
  std::vector<double> q_kv = (rotary ? rotary->forward(in.q, t) : in.q).to_vector();
  cache.keys.push_back((rotary ? rotary->forward(in.k, t) : in.k).to_vector());
  cache.values.push_back(v);
  keep_last(cache.keys, c);
  keep_last(cache.values, c);
  std::vector<double> o_kv(size_t(b * h * dv));
  for (int64_t r = 0; r < b * h; ++r)
    attend_cached(q_kv.data() + r * dk, cache.keys, cache.values, r * dk, r * dv, dk, dv, scale, o_kv.data() + r * dv);

  // FW memory.
  std::vector<double> o_fw(size_t(b * h * dv), 0.0);
  if (cache.S.empty()) cache.S.assign(size_t(b * h * dk * dv), 0.0);
  if (mode == AttnMode::sync_chunk_linear) {
    // φ = elu+1 on the raw q and k; S = Σ φ(k) vᵀ; β unused (§5.6).
    auto elu1 = [](std::vector<double> a) {
      for (double& e : a) e = e > 0 ? e + 1.0 : std::exp(e);
      return a;
    };
    const std::vector<double> fq = elu1(in.q.to_vector()), fk = elu1(in.k.to_vector());
    const bool time = config.linear_normalizer == LinearNormalizer::time;
    if (time && cache.key_sum.empty()) cache.key_sum.assign(size_t(b * h * dk), 0.0);
    for (int64_t bi = 0; bi < b; ++bi) {
      std::vector<double> head_sum(size_t(dk), 0.0);  // Σ_{h' ≤ h} φ(k_{t,h'}): the reference normaliser
      for (int64_t hi = 0; hi < h; ++hi) {
        const int64_t r = bi * h + hi;
        const double *qr = fq.data() + r * dk, *kr = fk.data() + r * dk;
        double* S = cache.S.data() + r * dk * dv;
        for (int64_t i = 0; i < dk; ++i)
          for (int64_t j = 0; j < dv; ++j) S[i * dv + j] += kr[i] * v[size_t(r * dv + j)];
        for (int64_t i = 0; i < dk; ++i) head_sum[size_t(i)] += kr[i];
        const double* zk = head_sum.data();
        if (time) {
          double* ks = cache.key_sum.data() + r * dk;
          for (int64_t i = 0; i < dk; ++i) ks[i] += kr[i];
          zk = ks;
        }
        double z = 0;
        for (int64_t i = 0; i < dk; ++i) z += qr[i] * zk[i];
        z *= scale;
        state_read(S, qr, scale, dk, dv, o_fw.data() + r * dv);
        for (int64_t j = 0; j < dv; ++j) o_fw[size_t(r * dv + j)] /= (z + 1e-10);
      }
    }
  } else {
    std::vector<double> q_fw = silu(in.q).to_vector(), k_fw = silu(in.k).to_vector(), bt = beta(x).to_vector();
    for (int64_t r = 0; r < b * h; ++r) l2_normalize(q_fw.data() + r * dk, dk);
    if (mode == AttnMode::delayed) {
      // Token t-C enters S now, with the current β_t; nothing while t < C (§5.4).
      if (int64_t(cache.delayed_k.size()) == c) {
        std::vector<double>& kd = cache.delayed_k.front();
        for (int64_t r = 0; r < b * h; ++r) {
          l2_normalize(kd.data() + r * dk, dk);
          delta_write(cache.S.data() + r * dk * dv, kd.data() + r * dk, cache.delayed_v.front().data() + r * dv,
                      bt[size_t(r)], dk, dv);
        }
        cache.delayed_k.pop_front();
        cache.delayed_v.pop_front();
      }
      cache.delayed_k.push_back(k_fw);
      cache.delayed_v.push_back(v);
    } else {
      if (mode == AttnMode::chunk && t % config.fw_block_size() == 0) cache.P = cache.S;  // a new FW block
      for (int64_t r = 0; r < b * h; ++r) {
        l2_normalize(k_fw.data() + r * dk, dk);
        delta_write(cache.S.data() + r * dk * dv, k_fw.data() + r * dk, v.data() + r * dv, bt[size_t(r)], dk, dv);
      }
    }
    // Chunk mode reads the frozen block-start state P; the others read S after the write.
    const std::vector<double>& read = mode == AttnMode::chunk ? cache.P : cache.S;
    for (int64_t r = 0; r < b * h; ++r)
      state_read(read.data() + r * dk * dv, q_fw.data() + r * dk, scale, dk, dv, o_fw.data() + r * dv);
  }
  ++cache.position;

  Memories m{from_vector(o_fw, {b, 1, h, dv}, x.dtype(), x.device()), from_vector(o_kv, {b, 1, h, dv}, x.dtype(), x.device())};
  Tensor o = mix(x, m);
  Tensor y = g_proj ? o_norm_gated->forward(o, g_proj->forward(x).reshape({b, 1, h, dv})) : o_norm->forward(o);
  return o_proj->forward(y.reshape({b, 1, value_dim}));
}

}  // namespace hqlt::models
