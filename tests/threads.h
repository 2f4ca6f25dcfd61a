#pragma once
// Running part of a test on a given number of threads. The engine promises the same bits
// for any thread count (every parallel loop either gives a thread whole outputs or adds
// partial sums in an order fixed by the shapes), and the tests check it by computing twice.
#include "engine/parallel.h"

namespace hqlt::testing {

// Sets the thread count for one scope and restores it after, also when a check throws.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : before_(num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(before_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int before_;
};

// f() computed with n threads.
template <typename F>
auto with_threads(int n, F&& f) {
  const ThreadCount scope(n);
  return f();
}

}  // namespace hqlt::testing
