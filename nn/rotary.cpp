#include "nn/rotary.h"

#include "ops/rope/rope.h"

namespace hqlt::nn {

RotaryEmbedding::RotaryEmbedding(int64_t d, double b) : dim(d), base(b) {
  HQLT_CHECK(d >= 2 && d % 2 == 0, "RotaryEmbedding: expected an even head dim >= 2, got ", d);
  HQLT_CHECK(b > 0, "RotaryEmbedding: expected base > 0, got ", b);
}

Tensor RotaryEmbedding::forward(const Tensor& x, int64_t position_offset) const {
  HQLT_CHECK(x.defined(), "RotaryEmbedding: argument 'x' is undefined");
  HQLT_CHECK(x.dim() == 4 && x.size(3) == dim, "RotaryEmbedding: argument 'x': expected [B, T, H, ", dim,
             "], got shape ", shape_str(x.shape()));
  HQLT_CHECK(position_offset >= 0, "RotaryEmbedding: position_offset must be >= 0, got ", position_offset);
  return rope(x, base, position_offset);
}

}  // namespace hqlt::nn
