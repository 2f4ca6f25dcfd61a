#pragma once
// HostPhases: a thread block of `Threads` threads on the host, for the kernels written as
// phases (ops/chunked/chunked_blocks.h, ops/reduce/row_blocks.h). A phase is a function
// f(tid, nthreads) in which every thread computes its own outputs from what earlier phases
// wrote; on the card every thread runs it and a barrier ends it (cuda::BlockPhases,
// engine/cuda/blocks.cuh). No thread reads what another writes in the same phase, so
// running the threads one after the other gives exactly the card's result.
namespace hqlt::phases {

template <int Threads>
struct HostPhases {
  static constexpr int threads = Threads;

  template <typename F>
  void operator()(F&& f) const {
    for (int t = 0; t < Threads; ++t) f(t, Threads);
  }
};

}  // namespace hqlt::phases
