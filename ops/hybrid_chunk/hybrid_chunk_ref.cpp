// hybrid_chunk_reference: the Delayed-Chunk op as docs/math/models.md §5.5 defines it, built only
// from recorded primitive ops so that autograd derives an independent backward (the oracle of
// docs/math/kernels.md §9.3). The FW part is the delta rule one token at a time
// (docs/math/models.md §4.2), with a snapshot of the state at the start of every FW block that the
// block's queries read; the KV part is a dense masked softmax over each attention chunk
// (docs/math/models.md §5.2, CA_C).
#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/select/where.h"
#include "ops/shape/concat.h"
#include "ops/shape/views.h"
#include "ops/softmax/softmax.h"

namespace hqlt {
namespace {

using hybrid_chunk_detail::Problem;

// hidden[i, j] = 1 where row i of a chunk must not see column j (the future: j > i).
Tensor future_mask(int64_t rows) {
  std::vector<double> hidden(size_t(rows * rows), 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = i + 1; j < rows; ++j) hidden[size_t(i * rows + j)] = 1.0;
  return from_vector(hidden, {rows, rows}, DType::i64);
}

// The lengths of the pieces that cut T tokens into blocks of `block` (the last may be short).
std::vector<int64_t> piece_sizes(int64_t time, int64_t block) {
  std::vector<int64_t> sizes;
  for (int64_t t0 = 0; t0 < time; t0 += block) sizes.push_back(std::min(block, time - t0));
  return sizes;
}

// o_fw [B, H, T, d_v] and the final state, from head-major q̂, k̂ [B, H, T, d_k], v [B, H, T, d_v],
// β [B, H, T, 1] and the initial state S [B, H, d_k, d_v]. Tokens and blocks are taken with
// split (one tape node per tensor), not one slice per token: the backward of a slice is a
// gradient the size of the whole tensor, which would make the reference quadratic in T.
std::pair<Tensor, Tensor> fast_weight_read(const Problem& p, const Tensor& qs, const Tensor& ks, const Tensor& vs,
                                           const Tensor& bs, Tensor S) {
  const std::vector<int64_t> tokens(size_t(p.time), 1);
  const std::vector<Tensor> k_t = split(ks, tokens, 2), v_t = split(vs, tokens, 2), b_t = split(bs, tokens, 2);
  const std::vector<Tensor> q_blocks = split(qs, piece_sizes(p.time, p.fw_block), 2);
  std::vector<Tensor> blocks;
  for (size_t n = 0; n < q_blocks.size(); ++n) {
    // Read: every query of the block sees the state P_{t0} as it is now, before the block.
    blocks.push_back(matmul(q_blocks[n], S) * p.scale);
    // Write the block's tokens one by one: δ_t = β_t (v_t − Sᵀ k̂_t), S += k̂_t δ_tᵀ.
    const int64_t t0 = int64_t(n) * p.fw_block, t1 = std::min(p.time, t0 + p.fw_block);
    for (int64_t t = t0; t < t1; ++t) {
      const Tensor delta = b_t[size_t(t)] * (v_t[size_t(t)] - matmul(k_t[size_t(t)], S));  // δ_tᵀ [B, H, 1, d_v]
      S = S + matmul(k_t[size_t(t)], delta, /*trans_a=*/true);
    }
  }
  return {concat(blocks, 2), S};
}

// o_kv [B, H, T, d_v] from head-major q_kv, k_kv [B, H, T, d_k] and v [B, H, T, d_v]: causal
// softmax attention inside each chunk, nothing across chunks.
Tensor chunk_attention(const Problem& p, const Tensor& qs, const Tensor& ks, const Tensor& vs) {
  const std::vector<int64_t> sizes = piece_sizes(p.time, p.kv_chunk);
  const std::vector<Tensor> q = split(qs, sizes, 2), k = split(ks, sizes, 2), v = split(vs, sizes, 2);
  std::vector<Tensor> chunks;
  for (size_t n = 0; n < sizes.size(); ++n) {
    Tensor scores = matmul(q[n], k[n], false, true) * p.scale;  // [B, H, c, c]
    scores = masked_fill(scores, future_mask(sizes[n]), -std::numeric_limits<double>::infinity());
    chunks.push_back(matmul(softmax(scores, -1), v[n]));
  }
  return concat(chunks, 2);
}

}  // namespace

HybridChunkOutput hybrid_chunk_reference(const Tensor& q_fw, const Tensor& k_fw, const Tensor& q_kv,
                                         const Tensor& k_kv, const Tensor& v, const Tensor& beta,
                                         const Tensor& initial_state, int64_t chunk_size, int64_t fw_block_size,
                                         bool l2norm_qk, double scale) {
  const Problem p = hybrid_chunk_detail::check_arguments("hybrid_chunk_reference", q_fw, k_fw, q_kv, k_kv, v, beta,
                                                         initial_state, chunk_size, fw_block_size, l2norm_qk, scale);
  const DType dt = q_fw.dtype();
  const Tensor state0 =
      initial_state.defined() ? initial_state : zeros({p.batch, p.heads, p.dk, p.dv}, dt, q_fw.device());
  if (p.time == 0) {  // no tokens: empty outputs, and the state passes through (as a copy)
    return {zeros({p.batch, 0, p.heads, p.dv}, dt, q_fw.device()), zeros({p.batch, 0, p.heads, p.dv}, dt, q_fw.device()),
            state0 * 1.0};
  }
  const double eps = hybrid_chunk_detail::kL2Eps;
  const Tensor q_hat = l2norm_qk ? l2_normalize(q_fw, eps) : q_fw;
  const Tensor k_hat = l2norm_qk ? l2_normalize(k_fw, eps) : k_fw;
  // Head-major views [B, H, T, d]: token t of every (batch, head) is the slice [:, :, t].
  auto heads_first = [](const Tensor& x) { return x.permute({0, 2, 1, 3}); };
  const Tensor vs = heads_first(v);
  const Tensor bs = beta.permute({0, 2, 1}).unsqueeze(-1);  // [B, H, T, 1]

  auto [o_fw, final_state] = fast_weight_read(p, heads_first(q_hat), heads_first(k_hat), vs, bs, state0);
  const Tensor o_kv = chunk_attention(p, heads_first(q_kv), heads_first(k_kv), vs);
  return {heads_first(o_fw).contiguous(), heads_first(o_kv).contiguous(), final_state};
}

}  // namespace hqlt
