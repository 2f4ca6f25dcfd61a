#include "train/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"

namespace hqlt::train {
namespace {

// NaN or +inf would make every probability NaN; -inf is a legitimate "never this id".
void check_logits(const float* logits, int64_t vocab) {
  HQLT_CHECK(vocab > 0, "sample_token: expected a vocabulary of at least one id, got ", vocab);
  for (int64_t i = 0; i < vocab; ++i) {
    const float x = logits[i];
    HQLT_CHECK(!std::isnan(x) && x != std::numeric_limits<float>::infinity(), "sample_token: the logit of id ", i,
               " is ", x, " (expected a finite number or -inf)");
  }
}

// The lowest id holding the largest logit.
int64_t argmax(const float* logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

// kept[i] is true for the k largest logits, ties going to the lower id: the first k ids
// in the order (logit descending, id ascending).
std::vector<bool> top_k_mask(const float* logits, int64_t vocab, int64_t k) {
  std::vector<bool> kept(size_t(vocab), k == 0 || k >= vocab);
  if (k == 0 || k >= vocab) return kept;
  std::vector<int64_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::nth_element(ids.begin(), ids.begin() + (k - 1), ids.end(), [&](int64_t a, int64_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  // ids[0 .. k) now hold the first k ids of that order (in no particular order).
  for (int64_t i = 0; i < k; ++i) kept[size_t(ids[size_t(i)])] = true;
  return kept;
}

}  // namespace

void check_sampling_options(const SamplingOptions& options, int64_t vocab) {
  HQLT_CHECK(std::isfinite(options.temperature) && options.temperature >= 0,
             "sampling: temperature must be a finite number >= 0 (0 = greedy), got ", options.temperature);
  HQLT_CHECK(options.top_k >= 0 && options.top_k <= vocab, "sampling: top-k must be in [0, ", vocab,
             "] (0 = off; the vocabulary has ", vocab, " ids), got ", options.top_k);
}

std::vector<double> sampling_probabilities(const float* logits, int64_t vocab, const SamplingOptions& options) {
  check_sampling_options(options, vocab);
  check_logits(logits, vocab);
  std::vector<double> p(size_t(vocab), 0.0);
  const int64_t best = argmax(logits, vocab);
  HQLT_CHECK(logits[best] != -std::numeric_limits<float>::infinity(),
             "sample_token: every logit is -inf, so no token can be drawn");
  if (options.temperature == 0) {
    p[size_t(best)] = 1;
    return p;
  }
  const std::vector<bool> kept = top_k_mask(logits, vocab, options.top_k);
  const double m = logits[best], t = options.temperature;
  double total = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (!kept[size_t(i)]) continue;
    // (ℓ - max) <= 0 before the division, so exp never overflows; max's own term is 1.
    p[size_t(i)] = std::exp((double(logits[i]) - m) / t);
    total += p[size_t(i)];
  }
  for (double& x : p) x /= total;
  return p;
}

int64_t sample_token(const float* logits, int64_t vocab, const SamplingOptions& options, Generator& gen) {
  const double u = uniform_at(gen.seed, gen.offset, 0);
  gen.offset += 1;  // one counter per token, whatever the options
  if (options.temperature == 0) {
    check_sampling_options(options, vocab);
    check_logits(logits, vocab);
    return argmax(logits, vocab);
  }
  return draw_categorical(sampling_probabilities(logits, vocab, options), u);
}

int64_t draw_categorical(const std::vector<double>& p, double u) {
  double cumulative = 0;
  int64_t last = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) continue;
    cumulative += p[i];
    last = int64_t(i);
    if (u < cumulative) return last;
  }
  // Rounding can leave the sum a few ulps under 1 and u above it: the last possible id.
  return last;
}

namespace {

// One token id as the [1] batch CausalLM::step takes.
Tensor token_tensor(int64_t id) {
  Tensor t = empty({1}, DType::i64);
  t.data<int64_t>()[0] = id;
  return t;
}

}  // namespace

std::vector<int64_t> generate_tokens(const models::CausalLM& model, const std::vector<int64_t>& prompt,
                                     int64_t count, int64_t context, const SamplingOptions& options,
                                     Generator& gen, const std::function<void(int64_t)>& on_token) {
  const int64_t vocab = model.config().vocab_size;
  HQLT_CHECK(!prompt.empty(), "generate: the prompt must hold at least one token");
  HQLT_CHECK(context > 0, "generate: the context must be at least one token, got ", context);
  HQLT_CHECK(count >= 0, "generate: the number of tokens must be >= 0, got ", count);
  check_sampling_options(options, vocab);
  for (size_t i = 0; i < prompt.size(); ++i)
    HQLT_CHECK(prompt[i] >= 0 && prompt[i] < vocab, "generate: prompt token ", i, " is ", prompt[i],
               ", outside the vocabulary [0, ", vocab, ")");

  // Prefill: the last `context` prompt tokens through the cached step (§5.10); the logits
  // of the last one predict the first new token. From then on each token costs one step.
  models::DecodeState state;
  Tensor logits;
  const int64_t start = std::max<int64_t>(0, int64_t(prompt.size()) - context);
  for (size_t i = size_t(start); i < prompt.size(); ++i) logits = model.step(token_tensor(prompt[i]), state);
  std::vector<int64_t> generated;
  generated.reserve(size_t(count));
  for (int64_t n = 0; n < count; ++n) {
    Tensor last = logits.contiguous();
    if (last.dtype() != DType::f32) last = last.to(DType::f32);  // an f64 model
    const int64_t token = sample_token(last.data<float>(), vocab, options, gen);
    generated.push_back(token);
    if (on_token) on_token(token);
    if (n + 1 < count) logits = model.step(token_tensor(token), state);
  }
  return generated;
}

}  // namespace hqlt::train
