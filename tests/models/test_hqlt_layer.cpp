// HQLTLayer (docs/math/models.md §5): forward values of every mode and mixing against a plain
// loop, the memories' hand-checkable properties (Delayed-Stream's late FW writes, shared KV
// part), parameter names by flag, bad inputs; and, at model level for every HQLT variant,
// fused vs reference kernels, an f64 gradcheck over all parameters, and causality.
#include <doctest/doctest.h>

#include "model_test_utils.h"
#include "naive_mixers.h"
#include "nn/init.h"

using namespace hqlt;
using namespace hqlt::models;
using namespace hqlt::models::testing;

namespace {

// A layer with every parameter drawn at random (norm weights and scalars too, so a wrong
// use of any of them shows), in f64.
std::shared_ptr<HQLTLayer> random_layer(const ModelConfig& c, uint64_t seed = 3) {
  auto layer = std::make_shared<HQLTLayer>(c);
  layer->to(DType::f64);
  Generator gen{seed, 0};
  for (auto& [name, p] : layer->named_parameters()) nn::init::normal_(p, 0.4, gen);
  return layer;
}

Tensor random_input(int64_t batch, int64_t time, int64_t d, uint64_t seed = 5) {
  Generator gen{seed, 0};
  return randn({batch, time, d}, DType::f64, Device::cpu, 0.0, 1.0, gen);
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("HQLTLayer forward matches a plain loop for every mode and mixing") {
    for (const Variant& v : all_variants()) {
      if (v.config.model_type != ModelType::hybrid_qlt) continue;
      for (int64_t time : {int64_t(1), int64_t(19)}) {
        CAPTURE(v.name);
        CAPTURE(time);
        auto layer = random_layer(v.config);
        Tensor x = random_input(2, time, v.config.hidden_size);
        naive::HqltOut want = naive::hqlt(*layer, x.to_vector(), 2, time);
        for (Kernels k : {Kernels::fused, Kernels::reference}) {
          CAPTURE(kernels_name(k));
          layer->set_kernels(k);
          HQLTLayer::Memories m = layer->memories(x);
          Tensor got = layer->forward(x);
          auto close = [](const Tensor& a, const std::vector<double>& b) {
            return hqlt::testing::max_error(a, from_vector(b, a.shape(), DType::f64));
          };
          CHECK(close(m.fw.contiguous(), want.fw) <= 1e-10);
          CHECK(close(m.kv.contiguous(), want.kv) <= 1e-10);
          CHECK(close(got, want.out) <= 1e-10);
        }
      }
    }
  }

  TEST_CASE("HQLTLayer Delayed-Chunk with the 64-token FW block reads fresh state before token 64") {
    ModelConfig c = variant("hqlt chunk vector gate, fw block 64, use_gate").config;
    auto layer = random_layer(c);
    const int64_t time = 70;
    Tensor x = random_input(1, time, c.hidden_size);
    naive::HqltOut want = naive::hqlt(*layer, x.to_vector(), 1, time);
    HQLTLayer::Memories m = layer->memories(x);
    CHECK(hqlt::testing::max_error(m.fw, from_vector(want.fw, m.fw.shape(), DType::f64)) <= 1e-10);
    std::vector<double> fw = m.fw.to_vector();
    const int64_t row = c.value_dim();
    double early = 0, late = 0;
    for (int64_t t = 0; t < time; ++t)
      for (int64_t i = 0; i < row; ++i) (t < 64 ? early : late) += std::abs(fw[size_t(t * row + i)]);
    CHECK(early == 0.0);  // P_0 = 0 for every token of the first 64-block
    CHECK(late > 0.0);
  }

  TEST_CASE("HQLTLayer Delayed-Stream: FW output is zero while T <= C - KV part equals Synchronous") {
    ModelConfig c = tiny_hqlt(AttnMode::delayed);
    c.chunk_size = 4;
    auto delayed = random_layer(c);
    ModelConfig sync_config = c;
    sync_config.attn_mode = AttnMode::sync_chunk;
    HQLTLayer sync(sync_config);
    sync.to(DType::f64);
    sync.load_state_dict(delayed->state_dict());

    for (int64_t time : {int64_t(1), int64_t(4)}) {
      CAPTURE(time);
      HQLTLayer::Memories m = delayed->memories(random_input(2, time, c.hidden_size));
      for (double e : m.fw.to_vector()) CHECK(e == 0.0);
    }
    const int64_t time = 9;
    Tensor x = random_input(2, time, c.hidden_size);
    HQLTLayer::Memories m = delayed->memories(x), s = sync.memories(x);
    CHECK(hqlt::testing::max_error(m.kv, s.kv) == 0.0);
    // Rows t < C read the fresh (zero) state; from t = C on, token t - C has been written.
    std::vector<double> fw = m.fw.to_vector();
    const int64_t row = c.value_dim();
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t t = 0; t < time; ++t) {
        double norm = 0;
        for (int64_t i = 0; i < row; ++i) norm += std::abs(fw[size_t((b * time + t) * row + i)]);
        CAPTURE(t);
        if (t < c.chunk_size) CHECK(norm == 0.0);
        else CHECK(norm > 0.0);
      }
  }

  TEST_CASE("HQLTLayer parameter names and shapes follow spec §7.1 for each flag") {
    ModelConfig c = tiny_config(ModelType::hybrid_qlt);
    c.hidden_size = 12;
    c.num_heads = 3;
    c.expand_k = 1.0;
    c.expand_v = 2.0;  // value_dim 24, d_v 8
    c.attn_mode = AttnMode::sync_chunk;
    SUBCASE("sum mixing, nothing optional but b_proj") {
      HQLTLayer layer(c);
      CHECK(names_of(layer) ==
            std::vector<std::string>{"q_proj.weight", "k_proj.weight", "v_proj.weight", "b_proj.weight",
                                     "o_norm.weight", "o_proj.weight"});
      CHECK(layer.q_proj->weight.shape() == Shape{12, 12});
      CHECK(layer.k_proj->weight.shape() == Shape{12, 12});
      CHECK(layer.v_proj->weight.shape() == Shape{24, 12});
      CHECK(layer.b_proj->weight.shape() == Shape{3, 12});
      CHECK(layer.o_norm->weight.shape() == Shape{8});
      CHECK(layer.o_proj->weight.shape() == Shape{12, 24});
    }
    SUBCASE("every optional parameter") {
      c.use_short_conv = true;
      c.conv_size = 3;
      c.use_memory_gate = true;
      c.use_memory_gate_separate = true;
      c.use_memory_dynamic_scaler = true;
      c.use_gate = true;
      HQLTLayer layer(c);
      CHECK(names_of(layer) == std::vector<std::string>{"q_proj.weight", "k_proj.weight", "v_proj.weight",
                                                        "b_proj.weight", "q_conv1d.weight", "k_conv1d.weight",
                                                        "v_conv1d.weight", "memory_gate_proj.weight",
                                                        "memory_mixer.weight", "g_proj.weight", "o_norm.weight",
                                                        "o_proj.weight"});
      CHECK(layer.q_conv1d->weight.shape() == Shape{12, 1, 3});
      CHECK(layer.v_conv1d->weight.shape() == Shape{24, 1, 3});
      CHECK(layer.memory_gate_proj->weight.shape() == Shape{48, 12});
      CHECK(layer.memory_mixer->weight.shape() == Shape{6, 12});
      CHECK(layer.g_proj->weight.shape() == Shape{24, 12});
      CHECK(layer.o_norm_gated->weight.shape() == Shape{8});
    }
    SUBCASE("static scalars, no beta") {
      c.use_memory_scaler = true;
      c.use_beta = false;
      HQLTLayer layer(c);
      // A module's own parameters come before its sub-modules' (as in PyTorch's named_parameters).
      CHECK(names_of(layer) == std::vector<std::string>{"fw_scale", "kv_scale", "q_proj.weight", "k_proj.weight",
                                                        "v_proj.weight", "o_norm.weight", "o_proj.weight"});
      CHECK(layer.fw_scale->shape() == Shape{1});
      CHECK(layer.fw_scale->item() == 1.0);
      CHECK(layer.kv_scale->item() == 1.0);
    }
    SUBCASE("a single vector gate has value_dim rows") {
      c.use_memory_gate = true;
      HQLTLayer layer(c);
      CHECK(layer.memory_gate_proj->weight.shape() == Shape{24, 12});
    }
  }

  TEST_CASE("HQLTLayer bad inputs") {
    ModelConfig c = tiny_hqlt(AttnMode::sync_chunk);
    HQLTLayer layer(c);
    CHECK_THROWS_WITH_AS(layer.forward(randn({2, 5, 15})), doctest::Contains("HQLTLayer: argument 'x'"), Error);
    CHECK_THROWS_WITH_AS(layer.forward(randn({5, 16})), doctest::Contains("expected [B, T, 16]"), Error);
    CHECK_THROWS_WITH_AS(layer.forward(randn({1, 5, 16}, DType::f64)), doctest::Contains("dtype"), Error);

    ModelConfig silu = c;
    silu.qk_activation = "silu";
    CHECK_THROWS_WITH_AS(HQLTLayer{silu}, doctest::Contains("qk_activation"), Error);
    ModelConfig wrong_family = tiny_config(ModelType::delta_net);
    CHECK_THROWS_WITH_AS(HQLTLayer{wrong_family}, doctest::Contains("expected a hybrid_qlt config"), Error);
    ModelConfig both = c;
    both.use_memory_scaler = true;
    CHECK_THROWS_WITH_AS(HQLTLayer{both}, doctest::Contains("mutually exclusive"), Error);
  }

  TEST_CASE("hqlt models are causal in every variant") {
    for (const Variant& v : all_variants()) {
      if (v.config.model_type != ModelType::hybrid_qlt) continue;
      CAPTURE(v.name);
      auto model = make_model(v.config);
      check_causal(*model, token_ids(2, 18, v.config.vocab_size, 21));
    }
  }
}

TEST_SUITE("reference") {
  TEST_CASE("hqlt models: fused kernels match the reference composition") {
    for (const Variant& v : all_variants()) {
      if (v.config.model_type != ModelType::hybrid_qlt) continue;
      for (int64_t time : {int64_t(1), int64_t(70)}) {
        CAPTURE(v.name);
        CAPTURE(time);
        auto model = make_model(v.config);
        check_fused_vs_reference(*model, token_ids(2, time, v.config.vocab_size, 13));
      }
    }
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck hqlt sync_chunk vector gate - RoPE") { gradcheck_variant("hqlt sync_chunk vector gate, RoPE"); }
  TEST_CASE("gradcheck hqlt delayed vector gate - short conv") {
    gradcheck_variant("hqlt delayed vector gate, short conv");
  }
  TEST_CASE("gradcheck hqlt chunk vector gate - fw block = chunk") {
    gradcheck_variant("hqlt chunk vector gate, fw block = chunk", 18);
  }
  TEST_CASE("gradcheck hqlt chunk vector gate - fw block 64 - use_gate") {
    gradcheck_variant("hqlt chunk vector gate, fw block 64, use_gate", 12);
  }
  TEST_CASE("gradcheck hqlt chunk 4 - fw block = chunk") { gradcheck_variant("hqlt chunk 4, fw block = chunk", 11); }
  TEST_CASE("gradcheck hqlt sync_chunk_linear vector gate - reference normaliser") {
    gradcheck_variant("hqlt sync_chunk_linear vector gate, reference normaliser");
  }
  TEST_CASE("gradcheck hqlt sync_chunk_linear vector gate - time normaliser") {
    gradcheck_variant("hqlt sync_chunk_linear vector gate, time normaliser");
  }
  TEST_CASE("gradcheck hqlt sync_chunk sum") { gradcheck_variant("hqlt sync_chunk sum"); }
  TEST_CASE("gradcheck hqlt sync_chunk static scalars - beta in (0..1)") {
    gradcheck_variant("hqlt sync_chunk static scalars, beta in (0,1)");
  }
  TEST_CASE("gradcheck hqlt sync_chunk dynamic scalars - use_gate") {
    gradcheck_variant("hqlt sync_chunk dynamic scalars, use_gate");
  }
  TEST_CASE("gradcheck hqlt sync_chunk separate gates - short conv - no beta") {
    gradcheck_variant("hqlt sync_chunk separate gates, short conv, no beta");
  }
}

TEST_SUITE("slow") {
  TEST_CASE("gradcheck hqlt every mode past the kernel chunk (T = 70 - batch 2)") {
    for (AttnMode mode : {AttnMode::sync_chunk, AttnMode::delayed, AttnMode::chunk, AttnMode::sync_chunk_linear}) {
      ModelConfig c = tiny_hqlt(mode);
      c.use_short_conv = true;
      c.use_local_pos_encoding = true;
      c.use_gate = true;
      c.fw_block = FwBlock::chunk_size;
      c.num_hidden_layers = 1;
      CAPTURE(attn_mode_name(mode));
      auto model = make_model(c);
      // The loss sums 2·70·11 logits, so each evaluation carries ~1e-13 of rounding, which
      // central differences with eps = 1e-6 turn into ~1e-7 of noise: atol 1e-6.
      hqlt::testing::GradcheckOptions opt;
      opt.atol = 1e-6;
      gradcheck_model(*model, token_ids(2, 70, c.vocab_size, 29), opt);
    }
  }

  TEST_CASE("hqlt models at a wider size: fused kernels match the reference composition") {
    for (AttnMode mode : {AttnMode::sync_chunk, AttnMode::delayed, AttnMode::chunk, AttnMode::sync_chunk_linear}) {
      ModelConfig c = tiny_hqlt(mode);
      c.hidden_size = 64;
      c.num_heads = 4;
      c.chunk_size = 16;
      c.use_short_conv = true;
      c.use_local_pos_encoding = true;
      c.vocab_size = 50;
      c.intermediate_size = std::nullopt;
      CAPTURE(attn_mode_name(mode));
      auto model = make_model(c);
      check_fused_vs_reference(*model, token_ids(2, 150, c.vocab_size, 31));
    }
  }
}
