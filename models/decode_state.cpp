#include "models/decode_state.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/delta_rule/delta_rule.h"

namespace hqlt::models {

void l2_normalize(double* x, int64_t d) {
  double ss = 0;
  for (int64_t i = 0; i < d; ++i) ss += x[i] * x[i];
  const double inv = 1.0 / std::sqrt(ss + detail::kDeltaRuleL2Eps);  // ε on the squared norm (§1.3)
  for (int64_t i = 0; i < d; ++i) x[i] *= inv;
}

void delta_write(double* S, const double* k, const double* v, double beta, int64_t dk, int64_t dv) {
  std::vector<double> delta(v, v + dv);
  for (int64_t i = 0; i < dk; ++i)
    for (int64_t j = 0; j < dv; ++j) delta[size_t(j)] -= S[i * dv + j] * k[i];  // v − Sᵀk
  for (double& e : delta) e *= beta;
  for (int64_t i = 0; i < dk; ++i)
    for (int64_t j = 0; j < dv; ++j) S[i * dv + j] += k[i] * delta[size_t(j)];
}

void state_read(const double* S, const double* q, double scale, int64_t dk, int64_t dv, double* out) {
  for (int64_t j = 0; j < dv; ++j) out[j] = 0;
  for (int64_t i = 0; i < dk; ++i)
    for (int64_t j = 0; j < dv; ++j) out[j] += S[i * dv + j] * q[i];
  for (int64_t j = 0; j < dv; ++j) out[j] *= scale;
}

void attend_cached(const double* q, const TokenRows& keys, const TokenRows& values, int64_t k_off, int64_t v_off,
                   int64_t dk, int64_t dv, double scale, double* out) {
  // Each row's address is taken once per token (through the deque, it would be recomputed
  // for every element, as `out` might alias it), and four keys' dot products run side by
  // side (one sum is a chain of dependent adds; four independent chains keep the FPU busy):
  // every sum still adds its terms in the same order, so the scores are the same.
  const size_t n = keys.size();
  std::vector<double> score(n);
  size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const double *k0 = keys[j].data() + k_off, *k1 = keys[j + 1].data() + k_off;
    const double *k2 = keys[j + 2].data() + k_off, *k3 = keys[j + 3].data() + k_off;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t i = 0; i < dk; ++i) {
      s0 += q[i] * k0[i];
      s1 += q[i] * k1[i];
      s2 += q[i] * k2[i];
      s3 += q[i] * k3[i];
    }
    score[j] = scale * s0, score[j + 1] = scale * s1, score[j + 2] = scale * s2, score[j + 3] = scale * s3;
  }
  for (; j < n; ++j) {
    const double* k = keys[j].data() + k_off;
    double s = 0;
    for (int64_t i = 0; i < dk; ++i) s += q[i] * k[i];
    score[j] = scale * s;
  }
  double top = -std::numeric_limits<double>::infinity();
  for (double s : score) top = std::max(top, s);
  double total = 0;
  for (double& s : score) total += (s = std::exp(s - top));
  for (int64_t i = 0; i < dv; ++i) out[i] = 0;
  for (j = 0; j < n; ++j) {
    const double* v = values[j].data() + v_off;
    const double p = score[j] / total;
    for (int64_t i = 0; i < dv; ++i) out[i] += p * v[i];
  }
}

void keep_last(TokenRows& rows, int64_t keep) {
  while (int64_t(rows.size()) > keep) rows.pop_front();
}

}  // namespace hqlt::models
