#pragma once
// Embedding: a table of V learned vectors read by token id, h⁰_t = E[x_t]
// (docs/math/models.md §1.7), on ops/embedding/embedding.h.
//
//   ids     any shape S (e.g. [B, T]), i32 or i64, values in [0, V)
//   weight  [V, D]       parameter "weight"
//   -> out  [S..., D]
//
// padding_idx (-1 for none): that row's gradient is always zero, as PyTorch's padding_idx
// (the 1.3B configs set pad_token_id = 2). Its value is read normally and is not zeroed at
// initialisation (§6). Backward is the op's scatter-add (saved: the ids only). Initial
// values are PyTorch's default N(0, 1); models redraw them with nn/init.h.
#include <cstdint>

#include "nn/module.h"

namespace hqlt::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, int64_t padding_idx = -1);
  std::string type_name() const override { return "Embedding"; }

  Tensor forward(const Tensor& ids) const;

  const int64_t num_embeddings, embedding_dim, padding_idx;
  Tensor& weight;  // [V, D]
};

}  // namespace hqlt::nn
