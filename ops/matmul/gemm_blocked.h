#pragma once
// The blocked GEMM on one thread (GotoBLAS / BLIS loop nest).
//
//   for jc over n in steps of NC            one B block's columns
//     for pc over k in steps of KC          one B block's rows
//       pack B[pc:pc+kc, jc:jc+nc]          -> stays in L2 for everything below
//       for ic over m in steps of MC        one A block
//         pack A[ic:ic+mc, pc:pc+kc]
//         for ir over mc in steps of MR     one A micro-panel: stays in L1 for the loop below
//           for jr over nc in steps of NR
//             micro-kernel: C[ic+ir:+MR, jc+jr:+NR] (+)= A micro-panel * B micro-panel
//
// The first pc step applies the caller's beta; later ones accumulate (beta = 1).
// Each thread of the parallel driver runs this on its own sub-problem.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "ops/matmul/gemm_kernel.h"
#include "ops/matmul/gemm_pack.h"

namespace hqlt::gemm::detail {

// A growable 64-byte-aligned buffer that keeps its memory between calls. Fresh pages cost
// ~3 ms/MB to fault in on our VMs, so packing buffers must be reused, never re-allocated.
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { std::free(data_); }

  template <typename T>
  T* get(int64_t count) {
    const size_t bytes = static_cast<size_t>(count) * sizeof(T);
    if (bytes > capacity_) {
      std::free(data_);
      capacity_ = (bytes + 4095) / 4096 * 4096;  // aligned_alloc wants a multiple of 64
      data_ = std::aligned_alloc(64, capacity_);
      if (data_ == nullptr) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// Packing buffers of the calling thread (one A block, one B block).
inline ScratchBuffer& a_block_scratch() {
  thread_local ScratchBuffer buffer;
  return buffer;
}
inline ScratchBuffer& b_block_scratch() {
  thread_local ScratchBuffer buffer;
  return buffer;
}

// Cut `total` into the fewest steps of at most `limit`, all of nearly equal size (so that
// k = 400 becomes 200 + 200, not 384 + 16 with a wasteful thin block), rounded up to a
// multiple of `quantum`.
inline int64_t even_step(int64_t total, int64_t limit, int64_t quantum) {
  const int64_t steps = (total + limit - 1) / limit;
  const int64_t step = (total + steps - 1) / steps;
  return std::min(limit, (step + quantum - 1) / quantum * quantum);
}

// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C on the calling thread; same
// argument convention as hqlt::gemm::gemm. Requires m, n, k >= 1.
template <typename T>
void gemm_blocked(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                  const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
                  int64_t ldc) {
  constexpr int MR = kMR<T>, NR = kNR<T>;
  T* a_block = a_block_scratch().get<T>(int64_t{kMC<T>} * kKC<T>);
  T* b_block = b_block_scratch().get<T>(int64_t{kKC<T>} * kNC<T>);
  const int64_t nc_step = even_step(n, kNC<T>, NR);
  const int64_t kc_step = even_step(k, kKC<T>, 1);

  for (int64_t jc = 0; jc < n; jc += nc_step) {
    const int64_t nc = std::min(nc_step, n - jc);
    for (int64_t pc = 0; pc < k; pc += kc_step) {
      const int64_t kc = std::min(kc_step, k - pc);
      const T beta_here = pc == 0 ? beta : T(1);
      const T* b_src = trans_b ? b + jc * ldb + pc : b + pc * ldb + jc;
      pack_b_block(trans_b, b_src, ldb, kc, nc, b_block);

      for (int64_t ic = 0; ic < m; ic += kMC<T>) {
        const int64_t mc = std::min<int64_t>(kMC<T>, m - ic);
        const T* a_src = trans_a ? a + pc * lda + ic : a + ic * lda + pc;
        pack_a_block(trans_a, a_src, lda, mc, kc, a_block);

        for (int64_t ir = 0; ir < mc; ir += MR) {
          const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ir));
          const T* a_panel = a_block + ir * kc;
          T* c_row = c + (ic + ir) * ldc + jc;
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
            micro_kernel(kc, a_panel, b_block + jr * kc, c_row + jr, ldc, rows, cols, alpha,
                         beta_here);
          }
        }
      }
    }
  }
}

}  // namespace hqlt::gemm::detail
