#pragma once
// Reading rows of a table by integer index: index_select, embedding and gather.
//
// All three are reads, out = x[index], so their backward is the matching scatter-add,
// dx[index] += dout: a row that is read twice receives the sum of both gradients. The
// scatter-add is written so that every element of dx is accumulated by one thread in the
// order of the index (ascending position), which makes the result deterministic and the
// same for any thread count: index_select and embedding split the work over the kept
// (outer) rows and over blocks of columns, gather over the lines along dim. On cuda every
// element of dx is owned by one thread that adds its row's (gather: its line's) positions
// in the same order (embedding_math.h), so GPU and CPU agree to the bit. The index may live on either device; it is range-checked on the host.
//
//   index_select(x, dim, index)
//     x:     [.., N, ..] with N along dim, f32/f64, any strides
//     index: [K], i32/i64, values in [0, N) (repeats allowed)
//     out:   [.., K, ..],  out[.., k, ..] = x[.., index[k], ..]
//
//   embedding(weight, ids, padding_idx)   (docs/math/models.md §1.7: h⁰_t = E[x_t])
//     weight: [V, D], f32/f64
//     ids:    any shape S (e.g. [B, T]), i32/i64, values in [0, V)
//     out:    [S..., D],  out[s, :] = weight[ids[s], :]
//     padding_idx: -1 for none, else a row in [0, V) whose gradient is always zero (as
//       PyTorch's padding_idx: the forward still reads that row's value unchanged).
//
//   gather(x, dim, index)   (torch.gather)
//     x:     [n_0, .., n_{r-1}], f32/f64, any strides
//     index: same rank r, i32/i64, index.size(k) <= x.size(k) for k != dim, values in
//            [0, x.size(dim))
//     out:   index's shape,  out[i_0, .., i_dim, ..] = x[i_0, .., index[i_0, .., i_dim, ..], ..]
//
// An index outside its range throws hqlt::Error naming the value, its position and the
// valid range. Saved for backward: the index as a contiguous i64 tensor and the input's
// shape; never x or weight.
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor embedding(const Tensor& weight, const Tensor& ids, int64_t padding_idx = -1);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

}  // namespace hqlt
