#include "nn/embedding.h"

#include "engine/rng.h"
#include "ops/embedding/embedding.h"

namespace hqlt::nn {

Embedding::Embedding(int64_t v, int64_t d, int64_t pad)
    : num_embeddings(v),
      embedding_dim(d),
      padding_idx(pad),
      weight(register_parameter("weight", [&] {
        HQLT_CHECK(v >= 1 && d >= 1, "Embedding: expected num_embeddings >= 1 and embedding_dim >= 1, got ", v,
                   " and ", d);
        HQLT_CHECK(pad >= -1 && pad < v, "Embedding: padding_idx must be -1 (none) or in [0, ", v, "), got ", pad);
        return randn({v, d});
      }())) {}

Tensor Embedding::forward(const Tensor& ids) const {
  HQLT_CHECK(ids.defined(), "Embedding: argument 'ids' is undefined");
  return embedding(weight, ids, padding_idx);
}

}  // namespace hqlt::nn
