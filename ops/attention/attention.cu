// The CUDA kernels of attention(): tiled softmax attention with an online softmax, forward
// and backward (docs/math/kernels.md §3, FlashAttention-2 scheme). Math and layouts: attention.h.
//
// Work split. A query row (forward, dQ) or key row (dK/dV) is owned by SPLIT adjacent
// lanes, each holding a 32-wide slice of the feature dim in registers (d padded to
// SPLIT·32 = 32, 64 or 128; padding is zero); a dot product over d is a slice sum plus a
// butterfly shuffle, which leaves the same bits in every lane of the row. The other operand
// streams through shared memory in 64-row tiles that every row of the block reads in step
// (a broadcast), each 32-slice padded to 33 words so the SPLIT addresses of one read fall
// in different banks.
//
//   forward   one block per (b, h, 64 query rows); key tiles outside the band are skipped
//             (§3.3), the band edge is masked per element; saves O and LSE = m + log ℓ.
//   backward  Dl_i = Σ_d dO_{i,d} O_{i,d} first (one thread per row), then two kernels:
//             dK/dV: one block per (b, h, 64 key rows), the query rows that see them inner,
//                    dK_J and dV_J in registers;
//             dQ:    one block per (b, h, 64 query rows), the key tiles they see inner.
//             dQ is a separate pass recomputing P (FlashAttention-2's deterministic
//             variant): no atomics, no zero-fill, and the same bits on every run, for two
//             more tile products per visible pair.
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/cuda/blocks.cuh"
#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/attention/attention_cuda.h"

namespace hqlt::attention_detail {
namespace {

constexpr int kRows = 64;                 // rows a block owns (query rows; key rows in dK/dV)
constexpr int kTile = 64;                 // rows of the shared tile it streams
constexpr int kSlice = 32;                // feature dims per lane
constexpr int kSliceStride = kSlice + 1;  // padded slice: one bank apart per slice
constexpr int kMaxDim = 128;

// The visibility band of attention.h's Problem, on the device.
struct Band {
  int64_t q_len, k_len;
  bool causal;
  int64_t window, query_offset;

  __device__ int64_t first_key(int64_t i) const {
    if (!causal || window < 0) return 0;
    const int64_t j = query_offset + i - window + 1;
    return j > 0 ? j : 0;
  }
  __device__ int64_t last_key(int64_t i) const { return causal ? query_offset + i : k_len - 1; }
  __device__ int64_t first_query(int64_t j) const {
    if (!causal) return 0;
    const int64_t i = j - query_offset;
    return i > 0 ? i : 0;
  }
  __device__ int64_t last_query(int64_t j) const {
    if (!causal || window < 0) return q_len - 1;
    const int64_t i = j + window - 1 - query_offset;
    return i < q_len - 1 ? i : q_len - 1;
  }
};

template <typename T>
__device__ __forceinline__ T exp_of(T x) {
  if constexpr (sizeof(T) == 4) {
    return expf(x);  // exact 0 at −∞: masked scores give P = 0
  } else {
    return exp(x);
  }
}
template <typename T>
__device__ __forceinline__ T log_of(T x) {
  if constexpr (sizeof(T) == 4) {
    return logf(x);
  } else {
    return log(x);
  }
}
template <typename T>
__device__ __forceinline__ T max_of(T a, T b) {
  return a > b ? a : b;
}

// Where element (row, d) of a padded shared tile lives.
template <int SPLIT>
__device__ __forceinline__ int tile_index(int row, int d) {
  return row * (SPLIT * kSliceStride) + (d / kSlice) * kSliceStride + d % kSlice;
}
template <int SPLIT>
__host__ __device__ constexpr size_t tile_elems() {
  return size_t(kTile) * SPLIT * kSliceStride;
}

// Sum over the SPLIT lanes of one row. xor-butterfly: every lane adds the same two numbers
// at each step (in either order, which is exact), so all lanes end with the same bits.
template <int SPLIT, typename T>
__device__ __forceinline__ T row_sum(T x) {
#pragma unroll
  for (int o = SPLIT / 2; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Rows [r0, r0 + kTile) of x [B, len, H, dim] at (b, h) into a padded tile; zero past
// len and past dim, so padded products add nothing.
template <typename T, int SPLIT>
__device__ void load_tile(T* tile, const T* x, int64_t b, int64_t h, int64_t r0, int64_t len, int64_t heads,
                          int64_t dim) {
  constexpr int D = SPLIT * kSlice;
  for (int idx = threadIdx.x; idx < kTile * D; idx += blockDim.x) {
    const int r = idx / D, d = idx % D;
    const int64_t row = r0 + r;
    tile[tile_index<SPLIT>(r, d)] = (row < len && d < dim) ? x[((b * len + row) * heads + h) * dim + d] : T(0);
  }
}

// This lane's slice of row `row` of x [B, len, H, dim] (zero outside).
template <typename T>
__device__ void load_slice(T (&dst)[kSlice], const T* x, int64_t b, int64_t h, int64_t row, int64_t len,
                           int64_t heads, int64_t dim, int slice) {
#pragma unroll
  for (int d = 0; d < kSlice; ++d) {
    const int64_t dd = int64_t(slice) * kSlice + d;
    dst[d] = (row < len && dd < dim) ? x[((b * len + row) * heads + h) * dim + dd] : T(0);
  }
}

template <typename T>
__device__ void store_slice(const T (&src)[kSlice], T factor, T* x, int64_t b, int64_t h, int64_t row,
                            int64_t len, int64_t heads, int64_t dim, int slice) {
#pragma unroll
  for (int d = 0; d < kSlice; ++d) {
    const int64_t dd = int64_t(slice) * kSlice + d;
    if (dd < dim) x[((b * len + row) * heads + h) * dim + dd] = src[d] * factor;
  }
}

// ---- forward (§3.1) ------------------------------------------------------------------

template <typename T, int SPLIT>
__global__ void __launch_bounds__(kRows* SPLIT)
    forward_kernel(Band band, int64_t heads, int64_t d_k, int64_t d_v, T scale, int n_qtiles, const T* q,
                   const T* k, const T* v, T* out, T* lse) {
  extern __shared__ unsigned char smem_raw[];
  T* ks = reinterpret_cast<T*>(smem_raw);
  T* vs = ks + tile_elems<SPLIT>();

  const int64_t bh = blockIdx.x, b = bh / heads, h = bh % heads;
  const int64_t i0 = int64_t(n_qtiles - 1 - int(blockIdx.y)) * kRows;  // later (heavier) tiles first
  const int64_t i_last = (i0 + kRows < band.q_len ? i0 + kRows : band.q_len) - 1;
  const int r = threadIdx.x / SPLIT, slice = threadIdx.x % SPLIT;
  const int64_t i = i0 + r;
  const bool row_ok = i < band.q_len;
  // Rows past q_len keep an empty band [0, −1]: they see nothing and write nothing, but
  // take part in every barrier and shuffle.
  const int64_t fk = row_ok ? band.first_key(i) : 0, lk = row_ok ? band.last_key(i) : -1;

  T qr[kSlice], acc[kSlice];
  load_slice(qr, q, b, h, i, band.q_len, heads, d_k, slice);
#pragma unroll
  for (int d = 0; d < kSlice; ++d) acc[d] = T(0);
  T m = T(-INFINITY), l = T(0);

  // The key tiles meeting [first_key(i0), last_key(i_last)]; both ends are monotone (§3.3).
  const int64_t kt_lo = band.first_key(i0) / kTile, kt_hi = band.last_key(i_last) / kTile;
  for (int64_t kt = kt_lo; kt <= kt_hi; ++kt) {
    const int64_t j0 = kt * kTile;
    __syncthreads();  // every lane is done with the previous tile
    load_tile<T, SPLIT>(ks, k, b, h, j0, band.k_len, heads, d_k);
    load_tile<T, SPLIT>(vs, v, b, h, j0, band.k_len, heads, d_v);
    __syncthreads();

    T s[kTile];
    T tile_max = T(-INFINITY);
#pragma unroll
    for (int jj = 0; jj < kTile; ++jj) {
      const T* kr = ks + tile_index<SPLIT>(jj, slice * kSlice);
      T part = T(0);
#pragma unroll
      for (int d = 0; d < kSlice; ++d) part += qr[d] * kr[d];
      const T x = row_sum<SPLIT>(part) * scale;
      const int64_t j = j0 + jj;
      s[jj] = (j >= fk && j <= lk) ? x : T(-INFINITY);
      tile_max = max_of(tile_max, s[jj]);
    }
    const T m_new = max_of(m, tile_max);
    // m_new = −∞: no visible key so far, α = 1 and P = 0 (§3.1); e^{−∞ − (−∞)} is never formed.
    if (m_new != T(-INFINITY)) {
      const T alpha = exp_of(m - m_new);
      l *= alpha;
#pragma unroll
      for (int d = 0; d < kSlice; ++d) acc[d] *= alpha;
#pragma unroll
      for (int jj = 0; jj < kTile; ++jj) {
        const T pj = exp_of(s[jj] - m_new);
        l += pj;
        const T* vr = vs + tile_index<SPLIT>(jj, slice * kSlice);
#pragma unroll
        for (int d = 0; d < kSlice; ++d) acc[d] += pj * vr[d];
      }
      m = m_new;
    }
  }
  if (row_ok) {  // every valid row sees its own key (causal) or key 0, so ℓ > 0
    store_slice(acc, T(1) / l, out, b, h, i, band.q_len, heads, d_v, slice);
    if (slice == 0) lse[bh * band.q_len + i] = m + log_of(l);
  }
}

// ---- backward (§3.2) -----------------------------------------------------------------

// Dl [B, H, Tq] from out, dout [B, Tq, H, d_v]; thread per row, rows in memory order.
template <typename T>
__global__ void row_dot_kernel(int64_t n_rows, int64_t q_len, int64_t heads, int64_t d_v, const T* out,
                               const T* dout, T* dl) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < n_rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    const T* o = out + r * d_v;
    const T* g = dout + r * d_v;
    T sum = T(0);
    for (int64_t d = 0; d < d_v; ++d) sum += g[d] * o[d];
    const int64_t h = r % heads, bi = r / heads, i = bi % q_len, b = bi / q_len;
    dl[(b * heads + h) * q_len + i] = sum;
  }
}

// dQ_I = s · Σ_J dS K_J with dS = P ⊙ (dO Vᵀ − Dl), P = exp(s·QKᵀ − LSE) recomputed.
template <typename T, int SPLIT>
__global__ void __launch_bounds__(kRows* SPLIT)
    dq_kernel(Band band, int64_t heads, int64_t d_k, int64_t d_v, T scale, int n_qtiles, const T* q, const T* k,
              const T* v, const T* dout, const T* lse, const T* dl, T* dq) {
  extern __shared__ unsigned char smem_raw[];
  T* ks = reinterpret_cast<T*>(smem_raw);
  T* vs = ks + tile_elems<SPLIT>();

  const int64_t bh = blockIdx.x, b = bh / heads, h = bh % heads;
  const int64_t i0 = int64_t(n_qtiles - 1 - int(blockIdx.y)) * kRows;
  const int64_t i_last = (i0 + kRows < band.q_len ? i0 + kRows : band.q_len) - 1;
  const int r = threadIdx.x / SPLIT, slice = threadIdx.x % SPLIT;
  const int64_t i = i0 + r;
  const bool row_ok = i < band.q_len;
  const int64_t fk = row_ok ? band.first_key(i) : 0, lk = row_ok ? band.last_key(i) : -1;
  const T lse_i = row_ok ? lse[bh * band.q_len + i] : T(0);
  const T dl_i = row_ok ? dl[bh * band.q_len + i] : T(0);

  T qr[kSlice], gr[kSlice], acc[kSlice];
  load_slice(qr, q, b, h, i, band.q_len, heads, d_k, slice);
  load_slice(gr, dout, b, h, i, band.q_len, heads, d_v, slice);
#pragma unroll
  for (int d = 0; d < kSlice; ++d) acc[d] = T(0);

  const int64_t kt_lo = band.first_key(i0) / kTile, kt_hi = band.last_key(i_last) / kTile;
  for (int64_t kt = kt_lo; kt <= kt_hi; ++kt) {
    const int64_t j0 = kt * kTile;
    __syncthreads();
    load_tile<T, SPLIT>(ks, k, b, h, j0, band.k_len, heads, d_k);
    load_tile<T, SPLIT>(vs, v, b, h, j0, band.k_len, heads, d_v);
    __syncthreads();
#pragma unroll 4
    for (int jj = 0; jj < kTile; ++jj) {
      const T* kr = ks + tile_index<SPLIT>(jj, slice * kSlice);
      const T* vr = vs + tile_index<SPLIT>(jj, slice * kSlice);
      T ps = T(0), pd = T(0);
#pragma unroll
      for (int d = 0; d < kSlice; ++d) {
        ps += qr[d] * kr[d];
        pd += gr[d] * vr[d];
      }
      const T x = row_sum<SPLIT>(ps) * scale;
      const T dp = row_sum<SPLIT>(pd);
      const int64_t j = j0 + jj;
      const T p = (j >= fk && j <= lk) ? exp_of(x - lse_i) : T(0);
      const T ds = p * (dp - dl_i);
#pragma unroll
      for (int d = 0; d < kSlice; ++d) acc[d] += ds * kr[d];
    }
  }
  if (row_ok) store_slice(acc, scale, dq, b, h, i, band.q_len, heads, d_k, slice);
}

// dV_J = Σ_I Pᵀ dO_I and dK_J = s · Σ_I dSᵀ Q_I over the query rows that see key tile J.
template <typename T, int SPLIT>
__global__ void __launch_bounds__(kRows* SPLIT)
    dkdv_kernel(Band band, int64_t heads, int64_t d_k, int64_t d_v, T scale, const T* q, const T* k, const T* v,
                const T* dout, const T* lse, const T* dl, T* dk, T* dv) {
  extern __shared__ unsigned char smem_raw[];
  T* qs = reinterpret_cast<T*>(smem_raw);
  T* gs = qs + tile_elems<SPLIT>();
  T* lse_s = gs + tile_elems<SPLIT>();
  T* dl_s = lse_s + kTile;

  const int64_t bh = blockIdx.x, b = bh / heads, h = bh % heads;
  const int64_t j0 = int64_t(blockIdx.y) * kRows;
  const int64_t j_last = (j0 + kRows < band.k_len ? j0 + kRows : band.k_len) - 1;
  const int r = threadIdx.x / SPLIT, slice = threadIdx.x % SPLIT;
  const int64_t j = j0 + r;
  const bool col_ok = j < band.k_len;

  T kr[kSlice], vr[kSlice], dk_acc[kSlice], dv_acc[kSlice];
  load_slice(kr, k, b, h, j, band.k_len, heads, d_k, slice);
  load_slice(vr, v, b, h, j, band.k_len, heads, d_v, slice);
#pragma unroll
  for (int d = 0; d < kSlice; ++d) dk_acc[d] = dv_acc[d] = T(0);

  // Query rows that see some key of [j0, j_last] (§3.3's backward rule); may be empty.
  const int64_t i_lo = band.first_query(j0), i_hi = band.last_query(j_last);
  for (int64_t ic = i_lo; ic <= i_hi; ic += kTile) {
    const int n = int(i_hi + 1 - ic < kTile ? i_hi + 1 - ic : kTile);
    __syncthreads();
    load_tile<T, SPLIT>(qs, q, b, h, ic, band.q_len, heads, d_k);
    load_tile<T, SPLIT>(gs, dout, b, h, ic, band.q_len, heads, d_v);
    for (int idx = threadIdx.x; idx < kTile; idx += blockDim.x) {
      const int64_t row = ic + idx;
      lse_s[idx] = row < band.q_len ? lse[bh * band.q_len + row] : T(0);
      dl_s[idx] = row < band.q_len ? dl[bh * band.q_len + row] : T(0);
    }
    __syncthreads();
    for (int ii = 0; ii < n; ++ii) {  // n is the same in every lane: shuffles stay converged
      const int64_t i = ic + ii;
      const T* qrow = qs + tile_index<SPLIT>(ii, slice * kSlice);
      const T* grow = gs + tile_index<SPLIT>(ii, slice * kSlice);
      T ps = T(0), pd = T(0);
#pragma unroll
      for (int d = 0; d < kSlice; ++d) {
        ps += qrow[d] * kr[d];
        pd += grow[d] * vr[d];
      }
      const T x = row_sum<SPLIT>(ps) * scale;
      const T dp = row_sum<SPLIT>(pd);
      const bool visible = col_ok && j >= band.first_key(i) && j <= band.last_key(i);
      const T p = visible ? exp_of(x - lse_s[ii]) : T(0);
      const T ds = p * (dp - dl_s[ii]);
#pragma unroll
      for (int d = 0; d < kSlice; ++d) {
        dv_acc[d] += p * grow[d];
        dk_acc[d] += ds * qrow[d];
      }
    }
  }
  if (col_ok) {
    store_slice(dk_acc, scale, dk, b, h, j, band.k_len, heads, d_k, slice);
    store_slice(dv_acc, T(1), dv, b, h, j, band.k_len, heads, d_v, slice);
  }
}

// ---- host side -------------------------------------------------------------------------

Band band_of(const Problem& p) { return Band{p.q_len, p.k_len, p.causal, p.window, p.query_offset}; }

// Lanes per row: the padded head dim over 32.
int split_for(const Problem& p) {
  const int64_t d = p.d_k > p.d_v ? p.d_k : p.d_v;
  return d <= 32 ? 1 : d <= 64 ? 2 : 4;
}

template <typename F>
void dispatch_split(int split, F&& f) {
  switch (split) {
    case 1: f.template operator()<1>(); break;
    case 2: f.template operator()<2>(); break;
    default: f.template operator()<4>(); break;
  }
}

int64_t tiles_of(int64_t n) { return (n + kRows - 1) / kRows; }

void check_problem(const Problem& p, const std::vector<Tensor>& tensors) {
  constexpr const char* kOp = "attention";
  HQLT_CHECK(p.d_k <= kMaxDim && p.d_v <= kMaxDim, kOp, ": the cuda kernel supports head dims up to ", kMaxDim,
             ", got d_k ", p.d_k, ", d_v ", p.d_v);
  HQLT_CHECK(p.batch * p.heads <= INT32_MAX, kOp, ": the cuda kernel needs B·H <= ", INT32_MAX, ", got ",
             p.batch * p.heads);
  HQLT_CHECK(tiles_of(p.q_len) <= 65535 && tiles_of(p.k_len) <= 65535, kOp,
             ": the cuda kernel needs Tq, Tk <= ", 65535 * kRows, ", got Tq ", p.q_len, ", Tk ", p.k_len);
  for (const Tensor& t : tensors) {
    HQLT_CHECK(t.device() == Device::cuda && t.is_contiguous() && t.dtype() == tensors[0].dtype(), kOp,
               ": the cuda kernel expects contiguous cuda tensors of one dtype, got ", device_name(t.device()), " ",
               dtype_name(t.dtype()), t.is_contiguous() ? "" : " (strided)");
  }
}

}  // namespace

void forward_cuda(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                  const Tensor& lse) {
  check_problem(p, {q, k, v, out, lse});
  if (p.batch * p.heads == 0 || p.q_len == 0) return;
  const Band band = band_of(p);
  const int n_qtiles = int(tiles_of(p.q_len));
  const dim3 grid(unsigned(p.batch * p.heads), unsigned(n_qtiles));
  dispatch_float(q.dtype(), "attention", [&]<typename T>() {
    dispatch_split(split_for(p), [&]<int S>() {
      const size_t smem = 2 * tile_elems<S>() * sizeof(T);
      cuda::allow_smem(forward_kernel<T, S>, smem);
      forward_kernel<T, S><<<grid, kRows * S, smem>>>(band, p.heads, p.d_k, p.d_v, T(p.scale), n_qtiles,
                                                      q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(),
                                                      lse.data<T>());
      HQLT_CUDA_CHECK_LAUNCH("attention forward_kernel");
    });
  });
}

void backward_cuda(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                   const Tensor& lse, const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  check_problem(p, {q, k, v, out, lse, dout, dq, dk, dv});
  if (p.batch * p.heads == 0) return;
  const Band band = band_of(p);
  const int64_t bh = p.batch * p.heads;
  Tensor dl = empty({p.batch, p.heads, p.q_len}, q.dtype(), Device::cuda);
  dispatch_float(q.dtype(), "attention", [&]<typename T>() {
    if (p.q_len > 0) {
      const int64_t rows = bh * p.q_len;
      row_dot_kernel<T><<<cuda::blocks_for(rows), cuda::kThreads>>>(
          rows, p.q_len, p.heads, p.d_v, out.data<T>(), dout.data<T>(), dl.data<T>());
      HQLT_CUDA_CHECK_LAUNCH("attention row_dot_kernel");
    }
    dispatch_split(split_for(p), [&]<int S>() {
      const size_t smem = 2 * tile_elems<S>() * sizeof(T);
      if (p.q_len > 0) {
        const int n_qtiles = int(tiles_of(p.q_len));
        cuda::allow_smem(dq_kernel<T, S>, smem);
        dq_kernel<T, S><<<dim3(unsigned(bh), unsigned(n_qtiles)), kRows * S, smem>>>(
            band, p.heads, p.d_k, p.d_v, T(p.scale), n_qtiles, q.data<T>(), k.data<T>(), v.data<T>(),
            dout.data<T>(), lse.data<T>(), dl.data<T>(), dq.data<T>());
        HQLT_CUDA_CHECK_LAUNCH("attention dq_kernel");
      }
      if (p.k_len > 0) {  // runs even with Tq = 0: it writes the zero dK, dV
        const size_t smem_kv = smem + 2 * kTile * sizeof(T);
        cuda::allow_smem(dkdv_kernel<T, S>, smem_kv);
        dkdv_kernel<T, S><<<dim3(unsigned(bh), unsigned(tiles_of(p.k_len))), kRows * S, smem_kv>>>(
            band, p.heads, p.d_k, p.d_v, T(p.scale), q.data<T>(), k.data<T>(), v.data<T>(), dout.data<T>(),
            lse.data<T>(), dl.data<T>(), dk.data<T>(), dv.data<T>());
        HQLT_CUDA_CHECK_LAUNCH("attention dkdv_kernel");
      }
    });
  });
}

}  // namespace hqlt::attention_detail
