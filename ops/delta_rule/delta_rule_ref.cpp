// delta_rule_reference: the delta rule as its definition states it (docs/math/kernels.md §1.1,
// docs/math/models.md §4.2), one token at a time, built only from recorded primitive ops. Autograd
// then derives the backward (the BPTT of docs/math/kernels.md §1.2) on its own, which makes this an
// independent oracle for the chunked kernel's hand-written backward.
#include <cmath>
#include <vector>

#include "ops/delta_rule/delta_rule.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/shape/concat.h"
#include "ops/shape/views.h"

namespace hqlt {

DeltaRuleOutput delta_rule_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                     const Tensor& initial_state, int64_t chunk_size, bool l2norm_qk) {
  detail::check_delta_rule_args("delta_rule_reference", q, k, v, beta, initial_state, chunk_size);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), dk = q.size(3), dv = v.size(3);
  const double scale = 1.0 / std::sqrt(double(dk));

  Tensor S = initial_state.defined() ? initial_state : zeros({B, H, dk, dv}, q.dtype(), q.device());
  if (T == 0) return {zeros({B, 0, H, dv}, q.dtype(), q.device()), S};

  const Tensor q_hat = l2norm_qk ? l2_normalize(q, detail::kDeltaRuleL2Eps) : q;
  const Tensor k_hat = l2norm_qk ? l2_normalize(k, detail::kDeltaRuleL2Eps) : k;
  // Head-major views, [B, H, T, d], cut into T pieces [B, H, 1, d] by one split each (one
  // tape node per input, rather than T slices that would each get a full-size gradient).
  const std::vector<int64_t> one_token(size_t(T), 1);
  const std::vector<Tensor> qs = split(q_hat.permute({0, 2, 1, 3}), one_token, 2);
  const std::vector<Tensor> ks = split(k_hat.permute({0, 2, 1, 3}), one_token, 2);
  const std::vector<Tensor> vs = split(v.permute({0, 2, 1, 3}), one_token, 2);
  const std::vector<Tensor> bs = split(beta.permute({0, 2, 1}).unsqueeze(-1), one_token, 2);  // [B, H, 1, 1]

  std::vector<Tensor> outputs;
  outputs.reserve(size_t(T));
  for (size_t t = 0; t < size_t(T); ++t) {
    const Tensor &q_t = qs[t], &k_t = ks[t], &v_t = vs[t], &b_t = bs[t];
    const Tensor retrieved = matmul(k_t, S);                                  // (Sᵀ k_t)ᵀ
    const Tensor delta = b_t * (v_t - retrieved);                             // δ_tᵀ
    S = S + matmul(k_t, delta, /*trans_a=*/true);                             // S + k_t δ_tᵀ
    outputs.push_back(matmul(q_t, S) * scale);                                // read after write
  }
  DeltaRuleOutput out;
  out.o = concat(outputs, 2).permute({0, 2, 1, 3}).contiguous();
  out.final_state = S;
  return out;
}

}  // namespace hqlt
