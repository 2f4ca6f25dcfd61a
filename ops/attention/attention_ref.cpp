// attention_reference(): softmax attention the plain way, for clarity and as the test
// oracle. It forms the full score matrix [B, H, Tq, Tk], fills the invisible entries with
// −inf through an explicit mask, and normalises with softmax — every step a recorded
// primitive op, so autograd derives a backward that shares nothing with the fused one.
#include <limits>
#include <vector>

#include "ops/attention/attention.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/select/where.h"
#include "ops/softmax/softmax.h"
#include "ops/shape/views.h"

namespace hqlt {
namespace {

// hidden[i, j] = 1 where query i must not see key j (attention.h: j > p_i, or j outside
// the window), with p_i = query_offset + i. Shape [Tq, Tk]; broadcasts over [B, H].
Tensor hidden_mask(int64_t q_len, int64_t k_len, int64_t window, int64_t query_offset) {
  std::vector<double> hidden(size_t(q_len * k_len));
  for (int64_t i = 0; i < q_len; ++i) {
    const int64_t position = query_offset + i;
    for (int64_t j = 0; j < k_len; ++j) {
      const bool future = j > position;
      const bool too_old = window > 0 && j < position - window + 1;
      hidden[size_t(i * k_len + j)] = (future || too_old) ? 1.0 : 0.0;
    }
  }
  return from_vector(hidden, {q_len, k_len}, DType::i64);
}

}  // namespace

Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, int64_t window,
                           double scale, int64_t query_offset) {
  attention_detail::check_arguments("attention_reference", q, k, v, causal, window, scale, query_offset);
  // Grouped-query attention: kv head j serves query heads j·G .. j·G+G-1.
  const int64_t groups = q.size(2) / k.size(2);
  // Head-major views: [B, H, T, d].
  Tensor qh = q.permute({0, 2, 1, 3});
  Tensor kh = attention_detail::repeat_kv_heads(k, groups).permute({0, 2, 1, 3});
  Tensor vh = attention_detail::repeat_kv_heads(v, groups).permute({0, 2, 1, 3});
  Tensor scores = mul_scalar(matmul(qh, kh, /*trans_a=*/false, /*trans_b=*/true), scale);  // [B, H, Tq, Tk]
  if (causal)
    scores = masked_fill(scores, hidden_mask(q.size(1), k.size(1), window, query_offset),
                         -std::numeric_limits<double>::infinity());
  Tensor probs = softmax(scores, -1);
  Tensor out = matmul(probs, vh);  // [B, H, Tq, d_v]
  return out.permute({0, 2, 1, 3}).contiguous();
}

}  // namespace hqlt
