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
  const std::vector<double> p = sampling_probabilities(logits, vocab, options);
  double cumulative = 0;
  int64_t last = -1;
  for (int64_t i = 0; i < vocab; ++i) {
    if (p[size_t(i)] == 0) continue;
    cumulative += p[size_t(i)];
    last = i;
    if (u < cumulative) return i;
  }
  // Rounding can leave the sum a few ulps under 1 and u above it: the last possible id.
  return last;
}

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

  NoGrad no_grad;
  std::vector<int64_t> sequence = prompt, generated;
  generated.reserve(size_t(count));
  for (int64_t n = 0; n < count; ++n) {
    const int64_t length = std::min<int64_t>(context, int64_t(sequence.size()));
    Tensor ids = empty({1, length}, DType::i64);
    std::copy(sequence.end() - length, sequence.end(), ids.data<int64_t>());
    // Only the last position's logits are needed: [1, L, V] -> [V].
    Tensor last = model.forward(ids).slice(1, length - 1, length).contiguous();
    if (last.dtype() != DType::f32) last = last.to(DType::f32);  // an f64 model
    const int64_t token = sample_token(last.data<float>(), vocab, options, gen);
    sequence.push_back(token);
    generated.push_back(token);
    if (on_token) on_token(token);
  }
  return generated;
}

}  // namespace hqlt::train
