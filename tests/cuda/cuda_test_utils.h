#pragma once
// Helpers for the cuda-labelled tests (TEST_SUITE("cuda")).
//
// HQLT_SKIP_WITHOUT_GPU(): first line of every cuda test that needs a GPU. When none can
// be used it prints "HQLT-SKIPPED: <reason>" and returns; CMakeLists.txt gives every test
// SKIP_REGULAR_EXPRESSION "HQLT-SKIPPED", so CTest reports the test as skipped, not passed.
//
// Unwritten outputs: PoisonedAllocations and for_each_device (devices.h) make the allocator
// fill every block it hands out with NaN.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "devices.h"

#define HQLT_SKIP_WITHOUT_GPU()                                                \
  do {                                                                         \
    const std::string hqlt_skip_reason_ = ::hqlt::testing::gpu_unavailable_reason(); \
    if (!hqlt_skip_reason_.empty()) {                                          \
      std::printf("HQLT-SKIPPED: %s\n", hqlt_skip_reason_.c_str());            \
      std::fflush(stdout);                                                     \
      return;                                                                  \
    }                                                                          \
  } while (0)
