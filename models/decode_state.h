#pragma once
// DecodeState: what streaming (cached) decoding keeps between tokens, so that feeding a
// sequence one token at a time through CausalLM::step gives exactly the logits of one
// forward() on the whole sequence (docs/math/models.md §5.10). One LayerCache per decoder
// block; each token mixer uses the fields its family needs and leaves the rest empty:
//
//   Transformer (§3)          keys/values: every RoPE'd key and value so far (the last W
//                             with window_size = W) — this cache grows with the sequence
//   DeltaNet (§4)             S, conv states
//   HQLT sync_chunk (§5.3)    keys/values: the last C KV keys (RoPE'd with
//                             use_local_pos_encoding) and values; S; conv states
//   HQLT delayed (§5.4)       keys/values as sync_chunk; delayed_k/delayed_v: the last C
//                             FW keys silu(k) and values, written into S C steps late
//   HQLT chunk (§5.5)         keys/values: the current attention chunk; S (every token so
//                             far) and P, the frozen copy of S at the start of the current
//                             FW block, which is what the FW memory reads
//   HQLT sync_chunk_linear    keys/values as sync_chunk; S = Σ φ(k) vᵀ, key_sum = Σ φ(k)
//     (§5.6)                  (the time normaliser only)
//
// The recurrent states are host doubles, [B, H, d_k, d_v] row-major (key_sum [B, H, d_k]),
// whatever the model's dtype: a per-token step is small, and the plain loops in this file
// are the clearest statement of the §4.2 recurrence. Each cached token is one host vector
// [B, heads, d] (row-major) in a deque, oldest first.
#include <cstdint>
#include <deque>
#include <vector>

#include "engine/tensor.h"

namespace hqlt::models {

using TokenRows = std::deque<std::vector<double>>;  // per token: [B, heads, d]

struct LayerCache {
  int64_t position = 0;           // tokens this layer has seen
  Tensor conv_q, conv_k, conv_v;  // ShortConvolution states [B, K-1, Ch] (use_short_conv)
  TokenRows keys, values;         // the KV memory's cached keys and values
  TokenRows delayed_k, delayed_v; // Delayed-Stream: FW keys and values waiting to be written
  std::vector<double> S, P;       // FW state(s) [B, H, d_k, d_v]
  std::vector<double> key_sum;    // linear FW, time normaliser: Σ φ(k) [B, H, d_k]
};

struct DecodeState {
  int64_t batch = 0;               // fixed by the first step
  int64_t position = 0;            // tokens fed so far
  std::vector<LayerCache> layers;  // one per decoder block; sized by the first step
};

// ---- Host math shared by the mixers' step() -----------------------------------------------

// ℓ2(x) = x / sqrt(Σ x² + 1e-6) in place, the in-kernel norm of §1.3.
void l2_normalize(double* x, int64_t d);

// One delta-rule write (§4.2) into S [d_k, d_v]: δ = β (v − Sᵀ k), S ← S + k δᵀ.
void delta_write(double* S, const double* k, const double* v, double beta, int64_t dk, int64_t dv);

// out[d_v] = scale · Sᵀ q for S [d_k, d_v].
void state_read(const double* S, const double* q, double scale, int64_t dk, int64_t dv, double* out);

// Softmax attention of one query over cached tokens (§3, §5.2): out[d_v] =
// Σ_j softmax_j(scale · q·k_j) v_j, where k_j = keys[j][k_off .. k_off+d_k) and
// v_j = values[j][v_off .. v_off+d_v).
void attend_cached(const double* q, const TokenRows& keys, const TokenRows& values, int64_t k_off, int64_t v_off,
                   int64_t dk, int64_t dv, double scale, double* out);

// Drops the oldest rows until at most `keep` remain.
void keep_last(TokenRows& rows, int64_t keep);

}  // namespace hqlt::models
