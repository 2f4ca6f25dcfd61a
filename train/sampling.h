#pragma once
// Sampling the next token from a language model's logits, and the decoding loop of
// `hqlt generate`.
//
// sample_token, for logits ℓ over a vocabulary of V ids, temperature T and top-k K:
//
//   T = 0        argmax ℓ (the lowest id among ties)
//   T > 0        keep the K largest logits (K = 0: all V; ties broken towards the lower
//                id, so the kept set is a function of ℓ alone), then
//                p_i = exp((ℓ_i - max ℓ) / T) / Σ_kept exp((ℓ_j - max ℓ) / T)
//                (max subtracted before dividing by T, so no T however small overflows),
//                and the token is the first kept id, in increasing id order, whose
//                cumulative probability exceeds one uniform draw u ∈ [0, 1)
//
// Every call uses exactly one counter of the generator (gen.offset += 1; greedy calls too),
// so the n-th token of a run depends only on (seed, n) and the logits: the same seed gives
// the same text. The draw is uniform_at(seed, offset, 0), the first number that
// rand({1}, ..., gen) would give. Logits may hold -inf (a masked id: probability 0), not NaN
// or +inf.
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/rng.h"
#include "models/causal_lm.h"

namespace hqlt::train {

struct SamplingOptions {
  double temperature = 0.8;  // 0: greedy
  int64_t top_k = 0;         // 0: no top-k filter
};

// Throws hqlt::Error unless temperature >= 0 (finite) and 0 <= top_k <= vocab.
void check_sampling_options(const SamplingOptions& options, int64_t vocab);

// The next token for one row of logits [vocab]; see the header comment.
int64_t sample_token(const float* logits, int64_t vocab, const SamplingOptions& options, Generator& gen);

// The categorical draw of sample_token (and of the RL agent's actions): the first id, in
// increasing order, whose cumulative probability exceeds u ∈ [0, 1); when rounding leaves
// the sum of p a few ulps under u, the last id of non-zero probability.
int64_t draw_categorical(const std::vector<double>& p, double u);

// The probabilities sample_token draws from (T > 0), as doubles, zero outside the top-k
// set; for T = 0, one-hot at the argmax. Shared by sample_token and its tests.
std::vector<double> sampling_probabilities(const float* logits, int64_t vocab, const SamplingOptions& options);

// Autoregressive decoding with cached states (docs/math/models.md §5.10): the last `context`
// tokens of the prompt are fed one by one through model.step, then each of `count` new
// tokens is sampled from the latest logits and fed back; `on_token` sees each new id as soon
// as it is drawn. Returns the new ids. Each token costs one step: O(1) model work for the
// recurrent families, attention over the cache for the Transformer. The model remembers
// every token it was fed (the context bounds only the prompt), exactly as one forward() on
// the whole fed sequence would see it. `prompt` must be non-empty with every id in
// [0, vocab).
std::vector<int64_t> generate_tokens(const models::CausalLM& model, const std::vector<int64_t>& prompt,
                                     int64_t count, int64_t context, const SamplingOptions& options,
                                     Generator& gen, const std::function<void(int64_t)>& on_token = {});

}  // namespace hqlt::train
