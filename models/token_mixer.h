#pragma once
// TokenMixer: what the three model families plug into the "attn" slot of every decoder block
// (docs/math/models.md §2): the Transformer's attention (§3), DeltaNet (§4) or an HQLT layer (§5).
//
//   x   [B, T, D]   the block's normalised hidden state RMSNorm_attn(h), f32 or f64
//   ->  [B, T, D]   the mixer output a, added to the residual stream by the block
//
// Kernels picks how the sequence-mixing operators run. `fused` uses the fast ops
// (attention, delta_rule, linear_attention, hybrid_chunk); `reference` swaps in their plain
// *_reference twins, built from recorded primitive ops. The two compute the same math, so a
// model with one set of weights can be run both ways and compared, forward and backward:
// the reference path is the oracle for the fused one.
#include "engine/error.h"
#include "engine/tensor.h"
#include "models/decode_state.h"
#include "nn/module.h"

namespace hqlt::models {

enum class Kernels { fused, reference };

inline const char* kernels_name(Kernels k) { return k == Kernels::fused ? "fused" : "reference"; }

class TokenMixer : public nn::Module {
 public:
  virtual Tensor forward(const Tensor& x) const = 0;
  // Streaming decoding (§5.10): the output [B, 1, D] for one new token x [B, 1, D], equal
  // to the last position of forward() on every token fed so far; updates `cache`. Runs
  // under NoGrad (CausalLM::step).
  virtual Tensor step(const Tensor& x, LayerCache& cache) const = 0;

  void set_kernels(Kernels k) { kernels_ = k; }
  Kernels kernels() const { return kernels_; }

 protected:
  Kernels kernels_ = Kernels::fused;
};

// Throws hqlt::Error naming the mixer unless x is [B, T, hidden_size].
inline void check_mixer_input(const char* mixer, const Tensor& x, int64_t hidden_size) {
  HQLT_CHECK(x.defined(), mixer, ": argument 'x' is undefined");
  HQLT_CHECK(x.dim() == 3 && x.size(2) == hidden_size, mixer, ": argument 'x': expected [B, T, ", hidden_size,
             "] (hidden_size), got shape ", shape_str(x.shape()));
}

}  // namespace hqlt::models
