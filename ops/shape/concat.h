#pragma once
// Joining tensors along one dim, and cutting one tensor into pieces along a dim.
//
// concat lays its inputs end to end along `dim`: out[.., o_i + j, ..] = xs[i][.., j, ..],
// where o_i is the sum of the earlier inputs' sizes along dim. split and chunk are its
// inverse: piece i is the view x[.., o_i : o_i + sizes[i], ..]. The backward passes are
// the same movements run the other way: concat hands each input the slice of the
// gradient that sits over it; split writes the gradient of each piece into its slice of
// a zero tensor shaped like x (a piece whose output got no gradient contributes zeros).
// No arithmetic happens, so these ops work for every dtype; gradients exist for f32/f64.
// On cuda they move data with the engine's copy and fill kernels (engine/cuda/copy.cu).
//
//   concat xs:    k >= 1 tensors of one rank, dtype and device, equal except along dim
//                 (e.g. [B, T_i, D] with dim = 1)            -> [B, Σ T_i, D]
//   split  x:     [.., N, ..] with N along dim; sizes >= 0 with Σ sizes = N
//                                                             -> views [.., sizes[i], ..]
//   chunk  x:     [.., N, ..]; chunks >= 1                    -> views of ceil(N / chunks)
//                 rows each, the last one smaller; like torch.chunk this may return fewer
//                 than `chunks` pieces (N = 5, chunks = 4 gives 2, 2, 1), and N = 0
//                 gives `chunks` empty pieces.
//   dim:          negative counts from the end.
//
// Saved for backward: only shapes and offsets (split records one tape node whose outputs
// are all the pieces).
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace hqlt {

Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);

}  // namespace hqlt
