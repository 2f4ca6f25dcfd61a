#pragma once
// Shared pieces of the model tests: tiny configs for every family and HQLT variant, random
// token ids, and the three model-level checks (fused vs reference kernels, a central-
// difference gradcheck over every parameter element, causality).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "gradcheck.h"
#include "models/causal_lm.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"

namespace hqlt::models::testing {

// A tiny instance of a family: 2 layers, D = 16, 2 heads, vocab 11, I = 8 (given
// explicitly: the §1.6 rule would give 256), norm_eps 1e-6.
inline ModelConfig tiny_config(ModelType type) {
  ModelConfig c = default_config(type);
  c.vocab_size = 11;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_heads = 2;
  c.intermediate_size = 8;
  c.initializer_range = 0.2;  // large enough that every path contributes visibly
  if (type == ModelType::hybrid_qlt) {
    c.qk_activation = "identity";
    c.attn_mode = AttnMode::sync_chunk;
    c.chunk_size = 4;
    c.use_short_conv = false;
    c.use_gate = false;
  }
  return c;
}

// A tiny HQLT in a given mode with the paper's main mixing (the vector gate).
inline ModelConfig tiny_hqlt(AttnMode mode) {
  ModelConfig c = tiny_config(ModelType::hybrid_qlt);
  c.attn_mode = mode;
  c.use_memory_gate = true;
  if (mode == AttnMode::chunk) c.chunk_size = 8;  // the GPU kernel's minimum
  return c;
}

// One named model variant.
struct Variant {
  std::string name;
  ModelConfig config;
};

// Every family and HQLT variant the tests sweep: each mode with the vector gate, each
// mixing with sync_chunk, and the flags (RoPE, short conv, β range, output gate, window,
// GQA, tied embeddings) covered somewhere.
inline std::vector<Variant> all_variants() {
  std::vector<Variant> v;
  {
    ModelConfig c = tiny_config(ModelType::transformer);
    v.push_back({"transformer", c});
    c.window_size = 3;
    c.num_kv_heads = 1;
    v.push_back({"transformer window 3, GQA 2:1", c});
    c = tiny_config(ModelType::transformer);
    c.qkv_bias = true;
    c.transformer_qk_norm = true;
    c.rope_theta = 500;
    v.push_back({"transformer qkv_bias, qk_norm, rope_theta 500", c});
  }
  {
    ModelConfig c = tiny_config(ModelType::delta_net);
    v.push_back({"delta_net short conv", c});
    c.use_short_conv = false;
    v.push_back({"delta_net noconv", c});
    c.use_short_conv = true;
    c.use_gate = true;
    c.use_beta = false;
    v.push_back({"delta_net use_gate, no beta", c});
    // The activations and the sum normaliser no paper config uses (§4.1); elu + 1 is
    // positive, so the sum normaliser never divides by a sum near zero.
    c = tiny_config(ModelType::delta_net);
    c.qk_activation = "relu";
    v.push_back({"delta_net relu, short conv", c});
    c.qk_activation = "identity";
    c.use_short_conv = false;
    v.push_back({"delta_net identity, noconv", c});
    c.qk_activation = "elu";
    c.qk_norm = "sum";
    v.push_back({"delta_net elu, sum norm, noconv", c});
    c.use_short_conv = true;
    v.push_back({"delta_net elu, sum norm, short conv", c});
  }
  {
    // Layer-wise hybrids (§2): softmax attention at listed layers, with its own heads.
    ModelConfig c = tiny_config(ModelType::delta_net);
    c.attn = AttentionLayers{.layers = {1}, .num_heads = 4, .num_kv_heads = 2, .qkv_bias = true, .window_size = 5,
                             .rope_theta = 500};
    v.push_back({"delta_net, attention at layer 1 (4 heads, GQA 2, bias, window 5)", c});
    ModelConfig h = tiny_hqlt(AttnMode::sync_chunk);
    h.attn = AttentionLayers{.layers = {0}, .num_heads = 2};
    v.push_back({"hqlt sync_chunk, attention at layer 0", h});
  }
  {
    ModelConfig c = tiny_hqlt(AttnMode::sync_chunk);
    c.use_local_pos_encoding = true;
    v.push_back({"hqlt sync_chunk vector gate, RoPE", c});
  }
  {
    ModelConfig c = tiny_hqlt(AttnMode::delayed);
    c.use_short_conv = true;
    v.push_back({"hqlt delayed vector gate, short conv", c});
  }
  {
    ModelConfig c = tiny_hqlt(AttnMode::chunk);
    c.fw_block = FwBlock::chunk_size;
    c.use_local_pos_encoding = true;
    v.push_back({"hqlt chunk vector gate, fw block = chunk", c});
    c.fw_block = FwBlock::reference_64;
    c.use_local_pos_encoding = false;
    c.use_gate = true;
    v.push_back({"hqlt chunk vector gate, fw block 64, use_gate", c});
    c.chunk_size = 3;  // a chunk the GPU kernels do not take; the CPU ones take any
    v.push_back({"hqlt chunk 3, fw block 64", c});
    c.chunk_size = 4;
    c.fw_block = FwBlock::chunk_size;
    v.push_back({"hqlt chunk 4, fw block = chunk", c});
  }
  {
    ModelConfig c = tiny_hqlt(AttnMode::sync_chunk_linear);
    c.use_local_pos_encoding = true;
    v.push_back({"hqlt sync_chunk_linear vector gate, reference normaliser", c});
    c.linear_normalizer = LinearNormalizer::time;
    v.push_back({"hqlt sync_chunk_linear vector gate, time normaliser", c});
  }
  {
    ModelConfig c = tiny_config(ModelType::hybrid_qlt);
    c.attn_mode = AttnMode::sync_chunk;
    v.push_back({"hqlt sync_chunk sum", c});
    ModelConfig s = c;
    s.use_memory_scaler = true;
    s.allow_neg_eigval = false;
    v.push_back({"hqlt sync_chunk static scalars, beta in (0,1)", s});
    ModelConfig d = c;
    d.use_memory_dynamic_scaler = true;
    d.use_gate = true;
    v.push_back({"hqlt sync_chunk dynamic scalars, use_gate", d});
    ModelConfig g = c;
    g.use_memory_gate = true;
    g.use_memory_gate_separate = true;
    g.use_short_conv = true;
    g.use_beta = false;
    v.push_back({"hqlt sync_chunk separate gates, short conv, no beta", g});
    ModelConfig both = c;
    both.use_memory_gate = true;
    both.use_memory_dynamic_scaler = true;  // the gate wins; memory_mixer exists unused
    v.push_back({"hqlt sync_chunk gate wins over dynamic scalars", both});
  }
  return v;
}

// Token ids [batch, time] uniform in [0, vocab).
inline Tensor token_ids(int64_t batch, int64_t time, int64_t vocab, uint64_t seed) {
  Generator gen{seed, 0};
  return randint(0, vocab, {batch, time}, DType::i64, gen);
}

// An f64 model built from a config with a fixed seed.
inline std::shared_ptr<CausalLM> make_model(const ModelConfig& c, uint64_t seed = 7) {
  Generator gen{seed, 0};
  auto m = std::make_shared<CausalLM>(c, gen);
  m->to(DType::f64);
  return m;
}

// Σ logits ⊙ w for a fixed random w: a scalar loss every logit contributes to.
inline Tensor weighted_loss(const Tensor& logits) {
  Generator gen{99, 0};
  Tensor w = rand(logits.shape(), logits.dtype(), Device::cpu, -1.0, 1.0, gen);
  return sum(mul(logits, w));
}

// Runs the model with fused and with reference kernels on the same weights and compares
// the logits and every parameter's gradient of a scalar loss (f64).
inline void check_fused_vs_reference(CausalLM& model, const Tensor& ids, double tol = 1e-10) {
  std::vector<std::vector<double>> grads[2];
  Tensor logits[2];
  const Kernels kinds[2] = {Kernels::fused, Kernels::reference};
  for (int i = 0; i < 2; ++i) {
    model.set_kernels(kinds[i]);
    model.zero_grad();
    logits[i] = model.forward(ids);
    weighted_loss(logits[i]).backward();
    for (auto& [name, p] : model.named_parameters())
      grads[i].push_back(p.grad().defined() ? p.grad().to_vector() : std::vector<double>(size_t(p.numel()), 0.0));
  }
  model.set_kernels(Kernels::fused);
  double e = hqlt::testing::max_error(logits[0], logits[1]);
  INFO("logits relative error " << e);
  CHECK(e <= tol);
  // Gradients are compared element by element against the reference's, with an absolute
  // floor at 1e-5 of the largest gradient of the model: a parameter whose gradient is
  // (mathematically) nearly zero — e.g. q/k in the time-normalised linear variant at T = 1,
  // where the output is v·a/(a + 1e-10) — holds only cancellation noise in both runs.
  double largest = 0;
  for (const auto& g : grads[1])
    for (double e : g) largest = std::max(largest, std::abs(e));
  size_t k = 0;
  for (auto& [name, p] : model.named_parameters()) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < grads[0][k].size(); ++i) {
      worst = std::max(worst, std::abs(grads[0][k][i] - grads[1][k][i]));
      scale = std::max(scale, std::abs(grads[1][k][i]));
    }
    const auto name_value = name;  // a copy: clang 14 cannot capture a structured binding
    INFO("name = " << name_value);
    CAPTURE(worst);
    CAPTURE(scale);
    CHECK(worst <= tol * 10 * std::max(scale, 1e-5 * largest));
    ++k;
  }
}

// The two checks of HQLT_CHECK_GRADIENTS over every element of every parameter: the parameters are the
// inputs, and the function puts them into the model's slots before running it.
inline void gradcheck_model(CausalLM& model, const Tensor& ids, hqlt::testing::GradcheckOptions opt = {}) {
  // Parameters that by design get no gradient (b_proj of the linear variant, memory_mixer
  // when the vector gate wins): the gradcheck treats their gradient as zero and checks that
  // against finite differences; the f32-vs-f64 comparison reads every checked input's
  // gradient, so there they are passed as constants.
  model.zero_grad();
  weighted_loss(model.forward(ids)).backward();
  std::vector<std::string> names;
  std::vector<Tensor> inputs, inputs_with_grad;
  for (auto& [name, p] : model.named_parameters()) {
    names.push_back(name);
    inputs.push_back(p);
    inputs_with_grad.push_back(p.grad().defined() ? p : p.detach());
  }
  model.zero_grad();
  CausalLM* m = &model;
  auto f = [m, names, ids](const std::vector<Tensor>& xs) {
    for (size_t i = 0; i < names.size(); ++i) m->parameter(names[i]) = xs[i];
    return m->forward(ids);
  };
  auto gc = hqlt::testing::gradcheck(f, inputs, opt);
  INFO("gradcheck: " << gc.report);
  CHECK(gc.ok);
  auto fc = hqlt::testing::compare_f32_with_f64(f, inputs_with_grad);
  INFO("f32 vs f64: " << fc.report);
  CHECK(fc.ok);
}

// The variant of all_variants() with this name.
inline const Variant& variant(const std::string& name) {
  static const std::vector<Variant> all = all_variants();
  for (const Variant& v : all)
    if (v.name == name) return v;
  FAIL("unknown variant " << name);
  return all.front();
}

// gradcheck_model on one named variant, over one sequence of `time` tokens.
inline void gradcheck_variant(const std::string& name, int64_t time = 10) {
  auto model = make_model(variant(name).config);
  gradcheck_model(*model, token_ids(1, time, model->config().vocab_size, 11));
}

// A module's parameter names in registration order.
inline std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> out;
  for (auto& [n, t] : m.named_parameters()) out.push_back(n);
  return out;
}

// Changing token t+1 must leave the logits at positions ≤ t unchanged, for every t.
inline void check_causal(const CausalLM& model, const Tensor& ids) {
  NoGrad no_grad;
  const int64_t time = ids.size(1), vocab = model.config().vocab_size;
  std::vector<double> base = model.forward(ids).to_vector();
  for (int64_t t = 0; t + 1 < time; ++t) {
    std::vector<double> changed_ids = ids.to_vector();
    for (int64_t b = 0; b < ids.size(0); ++b) {
      double& id = changed_ids[size_t(b * time + t + 1)];
      id = double((int64_t(id) + 1 + t % (vocab - 1)) % vocab);  // a different id
    }
    std::vector<double> out = model.forward(from_vector(changed_ids, ids.shape(), DType::i64)).to_vector();
    bool prefix_same = true, later_changed = false;
    for (int64_t b = 0; b < ids.size(0); ++b)
      for (int64_t s = 0; s < time; ++s)
        for (int64_t v = 0; v < vocab; ++v) {
          size_t e = size_t((b * time + s) * vocab + v);
          if (s <= t && std::abs(out[e] - base[e]) > 1e-13 * (1 + std::abs(base[e]))) prefix_same = false;
          if (s == t + 1 && out[e] != base[e]) later_changed = true;
        }
    CAPTURE(t);
    CHECK(prefix_same);
    CHECK(later_changed);
  }
}

}  // namespace hqlt::models::testing
