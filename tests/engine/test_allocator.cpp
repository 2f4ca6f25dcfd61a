// The caching allocator: freed blocks are reused (no new system allocation), counters
// track bytes in use and the peak, and the tests' poisoning fills every block handed out
// with NaN.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "devices.h"

#include "engine/allocator.h"
#include "engine/tensor.h"

using namespace hqlt;

TEST_SUITE("unit") {
  TEST_CASE("size classes are aligned and waste at most an eighth") {
    CHECK(memory::size_class(1) == 64);
    CHECK(memory::size_class(64) == 64);
    CHECK(memory::size_class(65) == 128);
    for (size_t b : {size_t(100000), size_t(1) << 20, size_t(3000001), size_t(123456789)}) {
      size_t c = memory::size_class(b);
      CHECK(c >= b);
      CHECK(double(c) <= double(b) * 1.125 + 64);
      CHECK(c % 64 == 0);
    }
  }
  TEST_CASE("a training-like loop reuses its buffers") {
    auto step = [] {
      Tensor a = empty({1000, 100}), b = empty({1000, 100}), c = empty({37});
      (void)a, (void)b, (void)c;
    };
    step();  // warm the cache
    memory::Stats before = memory::stats();
    for (int i = 0; i < 10; ++i) step();
    memory::Stats after = memory::stats();
    CHECK(after.system_allocations == before.system_allocations);
    CHECK(after.allocations == before.allocations + 30);
    CHECK(after.in_use == before.in_use);
  }
  TEST_CASE("in_use and peak count live bytes") {
    memory::Stats s0 = memory::stats();
    memory::reset_peak();
    size_t bytes = memory::size_class(4 * 250000);
    {
      Tensor a = empty({250000});
      CHECK(memory::stats().in_use == s0.in_use + bytes);
      {
        Tensor b = empty({250000});
        CHECK(memory::stats().peak >= s0.in_use + 2 * bytes);
      }
      CHECK(memory::stats().in_use == s0.in_use + bytes);
    }
    CHECK(memory::stats().in_use == s0.in_use);
    memory::empty_cache();
    CHECK(memory::stats().cached == 0);
  }
  TEST_CASE("poisoned allocations hand out NaN fresh and from the cache and zeros stay zeros") {
    std::vector<Device> seen;
    testing::for_each_device([&](Device d) {
      seen.push_back(d);
      { Tensor warm = full({300}, 7.0, DType::f64, d); }  // a block with numbers in it, back in the cache
      for (DType dt : {DType::f32, DType::f64}) {
        const std::vector<double> got = empty({300}, dt, d).to(Device::cpu).to_vector();
        for (double x : got) CHECK(std::isnan(x));
        for (double x : zeros({300}, dt, d).to(Device::cpu).to_vector()) CHECK(x == 0.0);
      }
    });
    CHECK(seen.front() == Device::cpu);
    CHECK(seen.size() == testing::test_devices().size());
    CHECK_FALSE(memory::poison());  // for_each_device restores what was set
  }
}
