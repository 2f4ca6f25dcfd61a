// Streaming decoding (docs/math/models.md §5.10): CausalLM::step fed one token at a time must
// give, at every position, the logits of one forward() on the whole sequence — for every
// family, every HQLT attn_mode and mixing, with and without short convs and RoPE, both
// readings of the Delayed-Chunk FW block, across several chunk boundaries (f64, 1e-9).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "model_test_utils.h"

using namespace hqlt;
using namespace hqlt::models;
using namespace hqlt::models::testing;

namespace {

// The variants of model_test_utils.h plus the switches they leave out for decoding.
std::vector<Variant> decode_variants() {
  std::vector<Variant> v = all_variants();
  ModelConfig d = tiny_hqlt(AttnMode::delayed);
  v.push_back({"hqlt delayed vector gate, noconv", d});
  d.use_local_pos_encoding = true;
  d.use_memory_gate_separate = true;
  v.push_back({"hqlt delayed separate gates, RoPE", d});
  ModelConfig s = tiny_hqlt(AttnMode::sync_chunk);
  s.use_short_conv = true;
  v.push_back({"hqlt sync_chunk vector gate, short conv, NoPos", s});
  ModelConfig c = tiny_hqlt(AttnMode::chunk);
  c.use_short_conv = true;
  c.use_memory_dynamic_scaler = true;
  c.use_memory_gate = false;
  v.push_back({"hqlt chunk dynamic scalars, short conv, fw block 64", c});
  ModelConfig l = tiny_hqlt(AttnMode::sync_chunk_linear);
  l.use_short_conv = true;
  v.push_back({"hqlt sync_chunk_linear short conv, NoPos", l});
  ModelConfig t = tiny_config(ModelType::transformer);
  t.tie_word_embeddings = true;
  v.push_back({"transformer tied embeddings", t});
  return v;
}

// ~2.5 chunks plus 3 tokens; past the 64-token FW block where that block is in play.
int64_t sequence_length(const ModelConfig& c) {
  if (c.model_type != ModelType::hybrid_qlt) return 13;
  int64_t t = c.chunk_size * 5 / 2 + 3;
  if (c.attn_mode == AttnMode::chunk && c.fw_block_size() > c.chunk_size) t = c.fw_block_size() + c.chunk_size + 3;
  return t;
}

}  // namespace

TEST_SUITE("reference") {
  TEST_CASE("CausalLM::step token by token equals forward on the whole sequence") {
    for (const Variant& variant : decode_variants()) {
      CAPTURE(variant.name);
      auto model = make_model(variant.config);
      const int64_t b = 2, t = sequence_length(variant.config), vocab = variant.config.vocab_size;
      Tensor ids = token_ids(b, t, vocab, 5);
      std::vector<double> full = model->forward(ids).to_vector();  // [B, T, V]
      DecodeState state;
      double worst = 0;
      for (int64_t i = 0; i < t; ++i) {
        // [B] ids on even steps, [B, 1] on odd ones: both shapes are accepted.
        Tensor col = ids.slice(1, i, i + 1).contiguous();
        Tensor logits = model->step(i % 2 == 0 ? col.reshape({b}) : col, state);
        REQUIRE(logits.shape() == Shape{b, vocab});
        std::vector<double> got = logits.to_vector();
        for (int64_t r = 0; r < b; ++r)
          for (int64_t k = 0; k < vocab; ++k)
            worst = std::max(worst, std::abs(got[size_t(r * vocab + k)] - full[size_t((r * t + i) * vocab + k)]));
      }
      CHECK(state.position == t);
      CHECK(worst <= 1e-9);
    }
  }

  TEST_CASE("CausalLM::step_hidden on embeddings equals hidden_states on the whole sequence") {
    // How an RL agent acts: one observation embedding at a time, every family's caches.
    for (const Variant& variant : decode_variants()) {
      CAPTURE(variant.name);
      auto model = make_model(variant.config);
      const int64_t b = 2, t = sequence_length(variant.config), d = variant.config.hidden_size;
      const Tensor embeds = randn({b, t, d}, DType::f64);
      const std::vector<double> full = model->hidden_states(embeds).to_vector();  // [B, T, D]
      DecodeState state;
      double worst = 0;
      for (int64_t i = 0; i < t; ++i) {
        const Tensor h = model->step_hidden(embeds.slice(1, i, i + 1).contiguous().reshape({b, d}), state);
        REQUIRE(h.shape() == Shape{b, d});
        const std::vector<double> got = h.to_vector();
        for (int64_t r = 0; r < b; ++r)
          for (int64_t k = 0; k < d; ++k)
            worst = std::max(worst, std::abs(got[size_t(r * d + k)] - full[size_t((r * t + i) * d + k)]));
      }
      CHECK(worst <= 1e-9);
    }
    auto model = make_model(tiny_config(ModelType::delta_net));
    DecodeState state;
    CHECK_THROWS_WITH_AS(model->step_hidden(randn({2, 3}, DType::f64), state), doctest::Contains("expected [B, 16]"),
                         Error);
  }

  TEST_CASE("CausalLM::step refuses a batch size other than the state's and non-token ids") {
    auto model = make_model(tiny_config(ModelType::delta_net));
    DecodeState state;
    model->step(token_ids(2, 1, 11, 1), state);
    CHECK_THROWS_WITH_AS(model->step(token_ids(3, 1, 11, 1), state),
                         doctest::Contains("decode state was started with 2 rows"), Error);
    CHECK_THROWS_WITH_AS(model->step(token_ids(2, 2, 11, 1), state), doctest::Contains("one token per row"), Error);
  }
}
