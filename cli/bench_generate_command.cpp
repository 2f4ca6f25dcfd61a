// hqlt bench generate: decoding speed at batch 1. Each model, at the lm-small shapes of
// `hqlt bench train` (vocab 256, d_model 256, 4 layers, 4 heads) with fresh weights, decodes
// --tokens tokens one at a time with its caches (CausalLM::step, docs/math/models.md §5.10),
// greedily from the token 0, through train::generate_tokens (the loop of `hqlt generate`),
// and the time of every window of --window tokens is reported as tokens/s. What it shows: a
// recurrent model (DeltaNet, every HQLT) does the same work for every token, so its rate
// stays flat however long the sequence grows; the Transformer
// attends over a KV cache that grows by one entry per token, so its time per token grows
// with the position. The last column, the last window's time per token over the first's,
// says it in one number (1.0: flat).
//
// The greedy argmax costs V = 256 comparisons per token, nothing next to the model; the
// weights are random, so the tokens are arbitrary, but the work per token does not depend
// on which tokens they are.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "models/causal_lm.h"
#include "train/model_names.h"
#include "train/sampling.h"

namespace hqlt::cli {
namespace {

constexpr const char* kUsage =
    "usage: hqlt bench generate [--model NAME] [--tokens N] [--window W] [--threads N] [--json]\n"
    "  tokens/s of cached decoding at batch 1, window by window over a long generation\n"
    "  --model NAME    one of transformer, delta_net, sync_hqlt, delayed_stream_hqlt,\n"
    "                  delayed_chunk_hqlt, sync_linear_hqlt, delta_net_attn (default: all)\n"
    "  --tokens N      tokens to decode (default 4096)\n"
    "  --window W      tokens per reported window; must divide N (default 512)\n"
    "  --threads N     OpenMP threads (default: OpenMP's default)\n"
    "  --json          one JSON object per model on stdout\n";

constexpr int64_t kVocab = 256, kWidth = 256, kLayers = 4, kHeads = 4;

struct Profile {
  std::string model;
  std::vector<double> tokens_per_s;  // one per window
};

models::ModelConfig config_for(const std::string& name) {
  train::ModelShape shape;
  shape.hidden_size = kWidth, shape.num_layers = kLayers, shape.num_heads = kHeads;
  try {
    return train::named_model_config(name, kVocab, shape);
  } catch (const Error& e) {
    fail("bench generate: --model: ", e.what());
  }
}

Profile decode(const std::string& name, int64_t tokens, int64_t window) {
  Generator gen{1234, 0};
  const models::CausalLM model(config_for(name), gen);
  Profile p{name, {}};
  using clock = std::chrono::steady_clock;
  clock::time_point window_start = clock::now();
  int64_t drawn = 0;
  // generate_tokens calls back after each token: one step of the model and one draw.
  const auto on_token = [&](int64_t) {
    if (++drawn % window != 0) return;
    const clock::time_point now = clock::now();
    p.tokens_per_s.push_back(double(window) / std::chrono::duration<double>(now - window_start).count());
    window_start = now;
  };
  Generator sampler{1, 0};
  train::generate_tokens(model, {0}, tokens, 1, train::SamplingOptions{0.0, 0}, sampler, on_token);
  return p;
}

}  // namespace

int bench_generate(const Args& args) {
  std::string model_name;
  int64_t tokens = 4096, window = 512;
  int threads = 0;
  bool json = false;
  ArgReader r("bench generate", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (r.is("--model")) {
      model_name = r.value();
    } else if (r.is("--tokens")) {
      tokens = r.positive_int();
    } else if (r.is("--window")) {
      window = r.positive_int();
    } else if (r.is("--threads")) {
      threads = int(r.positive_int());
    } else if (r.is("--json")) {
      json = true;
    } else {
      r.unknown();
    }
  }
  HQLT_CHECK(tokens % window == 0, "bench generate: --window ", window, " must divide --tokens ", tokens);
  std::vector<std::string> names = train::known_models();
  if (!model_name.empty()) {
    config_for(model_name);  // an unknown name fails here, before any model is timed
    names = {model_name};
  }
  set_num_threads(threads);

  if (!json) {
    std::printf("decoding at batch 1: vocab %lld, d_model %lld, %lld layers, %lld heads, %lld tokens, %d thread%s\n",
                (long long)kVocab, (long long)kWidth, (long long)kLayers, (long long)kHeads, (long long)tokens,
                num_threads(), num_threads() == 1 ? "" : "s");
    std::printf("tokens/s by position:\n%-20s", "model");
    for (int64_t start = 0; start < tokens; start += window) {
      char label[48];
      std::snprintf(label, sizeof label, "%lld-%lld", (long long)start, (long long)(start + window - 1));
      std::printf(" %11s", label);
    }
    std::printf("  last/first ms per token\n");
  }
  for (const std::string& name : names) {
    const Profile p = decode(name, tokens, window);
    const double growth = p.tokens_per_s.front() / p.tokens_per_s.back();
    if (json) {
      std::printf("{\"model\":\"%s\",\"tokens\":%lld,\"window\":%lld,\"threads\":%d,\"tokens_per_s\":[",
                  name.c_str(), (long long)tokens, (long long)window, num_threads());
      for (size_t i = 0; i < p.tokens_per_s.size(); ++i) std::printf(i ? ",%.1f" : "%.1f", p.tokens_per_s[i]);
      std::printf("],\"time_per_token_growth\":%.4f}\n", growth);
    } else {
      std::printf("%-20s", name.c_str());
      for (double x : p.tokens_per_s) std::printf(" %11.0f", x);
      std::printf("  %.2f\n", growth);
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace hqlt::cli
