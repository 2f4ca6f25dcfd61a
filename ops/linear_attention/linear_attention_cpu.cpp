// The CPU kernels of chunked causal linear attention (docs/math/kernels.md §5; the derivation
// and the measured speed are in NOTES.md).
//
// Idea: every (batch, head) pair is one task for one thread (OpenMP over B·H, never nested).
// A task walks its sequence in chunks of C tokens. Inside a chunk the causal part is a
// masked C×C product; everything before the chunk is one d_k×d_v state Z, so each chunk
// costs four small GEMMs (hqlt::gemm, single-threaded inside the parallel region), read and
// written in place in the token-major [B, T, H, d] tensors through their row stride H·d.
// The backward runs two sweeps per task and stores no state per chunk: a forward sweep
// rebuilds Z_n for the terms that read it (dΦq), a reverse sweep carries dZ_{n+1} for the
// terms that read that (dΦk, dV). The "reference_heads" normaliser couples the heads of one
// token, so it gets its own small pass over tokens, before the per-head tasks.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "engine/parallel.h"
#include "ops/kernel_math.h"
#include "ops/linear_attention/linear_attention.h"
#include "ops/matmul/gemm.h"

namespace hqlt::linear_attention_detail {
namespace {

using kernels::exp_nonpositive;

using Normalizer = LinearAttentionNormalizer;

// φ(x) = elu(x) + 1 = e^min(x,0) + max(x,0): no branch, so loops over it vectorise, and
// x + 1 exactly for x > 0 (the exponential is then exactly 1).
template <typename T>
inline T elu1(T x) {
  return exp_nonpositive(std::min(x, T(0))) + std::max(x, T(0));
}
// φ'(x) = 1 for x > 0, e^x = φ(x) otherwise; as φ > 1 exactly when x > 0, that is min(φ, 1),
// so the backward needs φ alone, not the raw input again.
template <typename T>
inline T elu1_slope(T phi) {
  return std::min(phi, T(1));
}

template <typename T>
void elu1_row(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = elu1(x[i]);
}

template <typename T>
T dot(const T* a, const T* b, int64_t n) {
  T acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// Zeroes the strict upper triangle of a c×c row-major matrix: the causal mask M (j <= i).
template <typename T>
void mask_causal(T* m, int64_t c) {
  for (int64_t i = 0; i < c; ++i) std::fill(m + i * c + i + 1, m + (i + 1) * c, T(0));
}

// Asks the cache for `rows` rows of `length` elements that sit `stride` apart: one head's
// tokens of the next chunk, fetched while the current chunk computes. Rows H·d apart look
// random to the hardware prefetcher, and loading them on demand stalls on memory latency.
template <typename T>
void prefetch_rows(const T* first, int64_t rows, int64_t stride, int64_t length) {
  const int64_t bytes = length * int64_t(sizeof(T));
  for (int64_t r = 0; r < rows; ++r) {
    const char* row = reinterpret_cast<const char*>(first + r * stride);
    for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(row + b);
  }
}

// Per-thread scratch that lives as long as the parallel region: a Tensor, so the caching
// allocator hands back the same warm memory on the next call.
template <typename T>
struct Scratch {
  Tensor storage;
  T* next;
  explicit Scratch(int64_t elements) : storage(empty({std::max<int64_t>(elements, 1)}, dtype_of<T>())) {
    next = storage.data<T>();
  }
  T* take(int64_t n) {
    T* p = next;
    next += n;
    return p;
  }
};

// The geometry of one (b, h) task in the token-major tensors: token t of head h of batch b
// sits at base + t·stride, with stride H·d.
struct Task {
  int64_t b, h;
  int64_t offset(int64_t t, int64_t t_len, int64_t heads, int64_t d) const { return ((b * t_len + t) * heads + h) * d; }
};

// ---- the reference_heads normaliser (docs/math/models.md §5.6): a pass over tokens --------

// z[b, t, h] = s · φ(q_{t,h}) · Σ_{h'≤h} φ(k_{t,h'}).
template <typename T>
void heads_normalizer_forward(const T* q, const T* k, T* z, const Problem& d, T s) {
  const int64_t rows = d.batch * d.time, H = d.heads, dk = d.dk;
#pragma omp parallel if (should_parallelize(rows * H * dk))
  {
    Scratch<T> scratch(2 * dk);
    T* phi = scratch.take(dk);
    T* key_sum = scratch.take(dk);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      std::fill(key_sum, key_sum + dk, T(0));
      for (int64_t h = 0; h < H; ++h) {
        elu1_row(k + (r * H + h) * dk, phi, dk);
        for (int64_t i = 0; i < dk; ++i) key_sum[i] += phi[i];
        elu1_row(q + (r * H + h) * dk, phi, dk);
        z[r * H + h] = s * dot(phi, key_sum, dk);
      }
    }
  }
}

// The normaliser's share of the feature gradients, written (not added) into dq and dk:
// dz_h = −(dO_h·O_h)/(z_h + eps), dΦq_h = s·dz_h·Σ_{h'≤h} φ(k_{h'}),
// dΦk_h = s·Σ_{h''≥h} dz_{h''} φ(q_{h''}) (docs/math/kernels.md §5, last paragraph).
template <typename T>
void heads_normalizer_backward(const T* q, const T* k, const T* z, const T* out, const T* dout, T* dq, T* dk,
                               const Problem& d, T s, T eps) {
  const int64_t rows = d.batch * d.time, H = d.heads, dkd = d.dk, dv = d.dv;
#pragma omp parallel if (should_parallelize(rows * H * (dkd + dv)))
  {
    Scratch<T> scratch(2 * dkd + H);
    T* phi = scratch.take(dkd);
    T* sum = scratch.take(dkd);
    T* dz = scratch.take(H);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t h = 0; h < H; ++h)
        dz[h] = -dot(dout + (r * H + h) * dv, out + (r * H + h) * dv, dv) / (z[r * H + h] + eps);
      std::fill(sum, sum + dkd, T(0));
      for (int64_t h = 0; h < H; ++h) {
        elu1_row(k + (r * H + h) * dkd, phi, dkd);
        T* g = dq + (r * H + h) * dkd;
        for (int64_t i = 0; i < dkd; ++i) {
          sum[i] += phi[i];
          g[i] = s * dz[h] * sum[i];
        }
      }
      std::fill(sum, sum + dkd, T(0));
      for (int64_t h = H - 1; h >= 0; --h) {
        elu1_row(q + (r * H + h) * dkd, phi, dkd);
        T* g = dk + (r * H + h) * dkd;
        for (int64_t i = 0; i < dkd; ++i) {
          sum[i] += dz[h] * phi[i];
          g[i] = s * sum[i];
        }
      }
    }
  }
}

// ---- the chunked recurrence, one (b, h) task at a time -------------------------------

template <typename T>
void forward_task(const T* q, const T* k, const T* v, T* out, T* z, const Problem& d, Task task, Normalizer normalizer,
                  T s, T eps, Scratch<T>& scratch, int64_t C) {
  const int64_t Tn = d.time, H = d.heads, dk = d.dk, dv = d.dv;
  const int64_t ldk = H * dk, ldv = H * dv;
  T* fq = scratch.take(C * dk);
  T* fk = scratch.take(C * dk);
  T* P = scratch.take(C * C);
  T* Z = scratch.take(dk * dv);
  T* key_sum = scratch.take(dk);
  std::fill(key_sum, key_sum + dk, T(0));
  for (int64_t t0 = 0; t0 < Tn; t0 += C) {
    const int64_t c = std::min(C, Tn - t0);
    const T* q0 = q + task.offset(t0, Tn, H, dk);
    const T* k0 = k + task.offset(t0, Tn, H, dk);
    const T* v0 = v + task.offset(t0, Tn, H, dv);
    T* o0 = out + task.offset(t0, Tn, H, dv);
    if (t0 + c < Tn) {
      const int64_t next = std::min(C, Tn - t0 - c);
      prefetch_rows(q0 + c * ldk, next, ldk, dk);
      prefetch_rows(k0 + c * ldk, next, ldk, dk);
      prefetch_rows(v0 + c * ldv, next, ldv, dv);
    }
    for (int64_t i = 0; i < c; ++i) {
      elu1_row(q0 + i * ldk, fq + i * dk, dk);
      elu1_row(k0 + i * ldk, fk + i * dk, dk);
    }
    // P = Φq Φkᵀ ⊙ M, then N = s (P V + Φq Z_n), the state read only after the first chunk.
    gemm::gemm<T>(false, true, c, c, dk, T(1), fq, dk, fk, dk, T(0), P, c);
    mask_causal(P, c);
    gemm::gemm<T>(false, false, c, dv, c, s, P, c, v0, ldv, T(0), o0, ldv);
    if (t0 > 0) gemm::gemm<T>(false, false, c, dv, dk, s, fq, dk, Z, dv, T(1), o0, ldv);
    // Z_{n+1} = Z_n + Φkᵀ V (not needed after the last chunk).
    if (t0 + c < Tn) gemm::gemm<T>(true, false, dk, dv, c, T(1), fk, dk, v0, ldv, t0 > 0 ? T(1) : T(0), Z, dv);
    for (int64_t i = 0; i < c; ++i) {
      const int64_t zi = (task.b * Tn + t0 + i) * H + task.h;
      if (normalizer == Normalizer::time) {
        for (int64_t j = 0; j < dk; ++j) key_sum[j] += fk[i * dk + j];
        z[zi] = s * dot(fq + i * dk, key_sum, dk);
      }
      const T denominator = z[zi] + eps;
      T* o = o0 + i * ldv;
      for (int64_t j = 0; j < dv; ++j) o[j] /= denominator;
    }
  }
}

template <typename T>
void backward_task(const T* q, const T* k, const T* v, const T* z, const T* out, const T* dout, T* dq, T* dk, T* dv,
                   const Problem& d, Task task, Normalizer normalizer, T s, T eps, Scratch<T>& scratch, int64_t C) {
  const int64_t Tn = d.time, H = d.heads, dkd = d.dk, dvd = d.dv;
  const int64_t ldk = H * dkd, ldv = H * dvd;
  const bool by_time = normalizer == Normalizer::time;
  // φ(q), φ(k), dN = dO/(z+eps) and dz of the whole sequence: made in the forward sweep,
  // read again in the reverse one.
  T* FQ = scratch.take(Tn * dkd);
  T* FK = scratch.take(Tn * dkd);
  T* DN = scratch.take(Tn * dvd);
  T* dz = scratch.take(Tn);
  T* G = scratch.take(C * C);
  T* P = scratch.take(C * C);
  T* Z = scratch.take(dkd * dvd);  // Z_n in the forward sweep, then dZ_{n+1} in the reverse one
  T* sum = scratch.take(dkd);      // Σ_{j≤t} φ(k_j), then Σ_{t≥j} dz_t φ(q_t) (time normaliser)

  const T* q_h = q + task.offset(0, Tn, H, dkd);
  const T* k_h = k + task.offset(0, Tn, H, dkd);
  const T* v_h = v + task.offset(0, Tn, H, dvd);
  const T* o_h = out + task.offset(0, Tn, H, dvd);
  const T* g_h = dout + task.offset(0, Tn, H, dvd);
  T* dq_h = dq + task.offset(0, Tn, H, dkd);
  T* dk_h = dk + task.offset(0, Tn, H, dkd);
  T* dv_h = dv + task.offset(0, Tn, H, dvd);
  const T* z_h = z + task.offset(0, Tn, H, 1);

  // With the heads normaliser, dq and dk already hold its share: the first product adds to it.
  const T first_beta = by_time ? T(0) : T(1);
  std::fill(sum, sum + dkd, T(0));
  // Forward sweep: everything that reads Z_n or stays inside the chunk; dq is final after it.
  for (int64_t t0 = 0; t0 < Tn; t0 += C) {
    const int64_t c = std::min(C, Tn - t0);
    if (t0 + c < Tn) {
      const int64_t next = std::min(C, Tn - t0 - c);
      prefetch_rows(q_h + (t0 + c) * ldk, next, ldk, dkd);
      prefetch_rows(k_h + (t0 + c) * ldk, next, ldk, dkd);
      prefetch_rows(v_h + (t0 + c) * ldv, next, ldv, dvd);
      prefetch_rows(g_h + (t0 + c) * ldv, next, ldv, dvd);
      if (by_time) prefetch_rows(o_h + (t0 + c) * ldv, next, ldv, dvd);
    }
    T *fq = FQ + t0 * dkd, *fk = FK + t0 * dkd, *dn = DN + t0 * dvd;
    const T* v0 = v_h + t0 * ldv;
    T *dq0 = dq_h + t0 * ldk, *dk0 = dk_h + t0 * ldk, *dv0 = dv_h + t0 * ldv;
    for (int64_t i = 0; i < c; ++i) {
      const int64_t t = t0 + i;
      elu1_row(q_h + t * ldk, fq + i * dkd, dkd);
      elu1_row(k_h + t * ldk, fk + i * dkd, dkd);
      const T denominator = z_h[t * H] + eps;
      const T* g = g_h + t * ldv;
      for (int64_t j = 0; j < dvd; ++j) dn[i * dvd + j] = g[j] / denominator;
      if (by_time) dz[t] = -dot(g, o_h + t * ldv, dvd) / denominator;
    }
    // G = s (dN Vᵀ) ⊙ M and P = s (Φq Φkᵀ) ⊙ M.
    gemm::gemm<T>(false, true, c, c, dvd, s, dn, dvd, v0, ldv, T(0), G, c);
    mask_causal(G, c);
    gemm::gemm<T>(false, true, c, c, dkd, s, fq, dkd, fk, dkd, T(0), P, c);
    mask_causal(P, c);
    // dΦq = G Φk + s dN Z_nᵀ,  dΦk = Gᵀ Φq,  dV = Pᵀ dN.
    gemm::gemm<T>(false, false, c, dkd, c, T(1), G, c, fk, dkd, first_beta, dq0, ldk);
    if (t0 > 0) gemm::gemm<T>(false, true, c, dkd, dvd, s, dn, dvd, Z, dvd, T(1), dq0, ldk);
    gemm::gemm<T>(true, false, c, dkd, c, T(1), G, c, fq, dkd, first_beta, dk0, ldk);
    gemm::gemm<T>(true, false, c, dvd, c, T(1), P, c, dn, dvd, T(0), dv0, ldv);
    if (t0 + c < Tn) gemm::gemm<T>(true, false, dkd, dvd, c, T(1), fk, dkd, v0, ldv, t0 > 0 ? T(1) : T(0), Z, dvd);
    // dq is complete but for the time normaliser's share, s dz_t Σ_{j≤t} φ(k_j); then φ'.
    for (int64_t i = 0; i < c; ++i) {
      T* g = dq0 + i * ldk;
      if (by_time) {
        const T w = s * dz[t0 + i];
        for (int64_t j = 0; j < dkd; ++j) {
          sum[j] += fk[i * dkd + j];
          g[j] += w * sum[j];
        }
      }
      for (int64_t j = 0; j < dkd; ++j) g[j] *= elu1_slope(fq[i * dkd + j]);
    }
  }

  // Reverse sweep: dZ_{n+1} = s Σ_{m>n} Φq_mᵀ dN_m feeds dΦk += V dZᵀ and dV += Φk dZ.
  std::fill(sum, sum + dkd, T(0));
  const int64_t last = (Tn - 1) / C * C;
  for (int64_t t0 = last; t0 >= 0; t0 -= C) {
    const int64_t c = std::min(C, Tn - t0);
    if (t0 > 0) {
      prefetch_rows(v_h + (t0 - C) * ldv, C, ldv, dvd);
      prefetch_rows(dk_h + (t0 - C) * ldk, C, ldk, dkd);
      prefetch_rows(dv_h + (t0 - C) * ldv, C, ldv, dvd);
    }
    const T *fq = FQ + t0 * dkd, *fk = FK + t0 * dkd, *dn = DN + t0 * dvd, *v0 = v_h + t0 * ldv;
    T* dk0 = dk_h + t0 * ldk;
    if (t0 < last) {
      gemm::gemm<T>(false, true, c, dkd, dvd, T(1), v0, ldv, Z, dvd, T(1), dk0, ldk);
      gemm::gemm<T>(false, false, c, dvd, dkd, T(1), fk, dkd, Z, dvd, T(1), dv_h + t0 * ldv, ldv);
    }
    if (t0 > 0) gemm::gemm<T>(true, false, dkd, dvd, c, s, fq, dkd, dn, dvd, t0 < last ? T(1) : T(0), Z, dvd);
    // dk is complete but for the time normaliser's share, s Σ_{t≥j} dz_t φ(q_t); then φ'.
    for (int64_t i = c - 1; i >= 0; --i) {
      T* g = dk0 + i * ldk;
      if (by_time) {
        const T w = dz[t0 + i];
        for (int64_t j = 0; j < dkd; ++j) {
          sum[j] += w * fq[i * dkd + j];
          g[j] += s * sum[j];
        }
      }
      for (int64_t j = 0; j < dkd; ++j) g[j] *= elu1_slope(fk[i * dkd + j]);
    }
  }
}

// Chunk length actually used: C, but never more rows than the sequence has.
int64_t effective_chunk(const Problem& d) { return std::max<int64_t>(1, std::min(d.chunk, d.time)); }

}  // namespace

template <typename T>
void forward_cpu(const T* q, const T* k, const T* v, T* out, T* z, const Problem& d, LinearAttentionNormalizer normalizer,
                 T eps) {
  if (d.batch * d.time * d.heads == 0) return;
  const T s = T(1) / std::sqrt(T(d.dk));
  if (normalizer == Normalizer::reference_heads) heads_normalizer_forward(q, k, z, d, s);
  const int64_t C = effective_chunk(d), tasks = d.batch * d.heads;
  const int64_t scratch = 2 * C * d.dk + C * C + d.dk * d.dv + d.dk;
#pragma omp parallel if (tasks > 1 && should_parallelize(tasks * d.time * (d.dk + d.dv)))
  {
    Scratch<T> buffers(scratch);
    T* start = buffers.next;
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < tasks; ++bh) {
      buffers.next = start;
      forward_task(q, k, v, out, z, d, Task{bh / d.heads, bh % d.heads}, normalizer, s, eps, buffers, C);
    }
  }
}

template <typename T>
void backward_cpu(const T* q, const T* k, const T* v, const T* z, const T* out, const T* dout, T* dq, T* dk, T* dv,
                  const Problem& d, LinearAttentionNormalizer normalizer, T eps) {
  if (d.batch * d.time * d.heads == 0) return;
  const T s = T(1) / std::sqrt(T(d.dk));
  if (normalizer == Normalizer::reference_heads) heads_normalizer_backward(q, k, z, out, dout, dq, dk, d, s, eps);
  const int64_t C = effective_chunk(d), tasks = d.batch * d.heads;
  const int64_t scratch = 2 * d.time * d.dk + d.time * d.dv + d.time + 2 * C * C + d.dk * d.dv + d.dk;
#pragma omp parallel if (tasks > 1 && should_parallelize(tasks * d.time * (d.dk + d.dv)))
  {
    Scratch<T> buffers(scratch);
    T* start = buffers.next;
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < tasks; ++bh) {
      buffers.next = start;
      backward_task(q, k, v, z, out, dout, dq, dk, dv, d, Task{bh / d.heads, bh % d.heads}, normalizer, s, eps,
                    buffers, C);
    }
  }
}

template void forward_cpu<float>(const float*, const float*, const float*, float*, float*, const Problem&,
                                 LinearAttentionNormalizer, float);
template void forward_cpu<double>(const double*, const double*, const double*, double*, double*, const Problem&,
                                  LinearAttentionNormalizer, double);
template void backward_cpu<float>(const float*, const float*, const float*, const float*, const float*, const float*,
                                  float*, float*, float*, const Problem&, LinearAttentionNormalizer, float);
template void backward_cpu<double>(const double*, const double*, const double*, const double*, const double*,
                                   const double*, double*, double*, double*, const Problem&, LinearAttentionNormalizer,
                                   double);

}  // namespace hqlt::linear_attention_detail
