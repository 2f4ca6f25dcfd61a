#include "engine/rng.h"

#include <cmath>

#include "engine/parallel.h"

namespace hqlt {

Generator& default_generator() {
  static Generator gen{0x5eed, 0};
  return gen;
}
void manual_seed(uint64_t seed) { default_generator() = Generator{seed, 0}; }

std::array<uint32_t, 4> philox(uint64_t counter, uint64_t key) {
  constexpr uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
  constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(kMul0) * c0, p1 = uint64_t(kMul1) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n1 = uint32_t(p1);
    uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1, n3 = uint32_t(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kWeyl0, k1 += kWeyl1;
  }
  return {c0, c1, c2, c3};
}

namespace {
// Two 32-bit words -> a double in [0, 1) with 53 random bits.
double to_unit(uint32_t hi, uint32_t lo) {
  uint64_t bits = (uint64_t(hi >> 5) << 26) | uint64_t(lo >> 6);
  return double(bits) * (1.0 / 9007199254740992.0);
}
}  // namespace

double uniform_at(uint64_t seed, uint64_t offset, uint64_t index) {
  auto w = philox(offset + index / 2, seed);
  return index % 2 == 0 ? to_unit(w[0], w[1]) : to_unit(w[2], w[3]);
}

double normal_at(uint64_t seed, uint64_t offset, uint64_t index) {
  auto w = philox(offset + index / 2, seed);
  double u1 = 1.0 - to_unit(w[0], w[1]);  // (0, 1]: log is finite
  double u2 = to_unit(w[2], w[3]);
  double radius = std::sqrt(-2.0 * std::log(u1));
  double angle = 2.0 * M_PI * u2;
  return index % 2 == 0 ? radius * std::cos(angle) : radius * std::sin(angle);
}

namespace {
template <typename Draw>
Tensor generate(const Shape& shape, DType dtype, Device device, Generator& gen, Draw draw) {
  Tensor host = empty(shape, dtype, Device::cpu);
  const int64_t n = host.numel();
  const uint64_t seed = gen.seed, offset = gen.offset;
  gen.offset += uint64_t(n + 1) / 2;
  dispatch_all(dtype, [&]<typename T>() {
    T* p = host.data<T>();
#pragma omp parallel for schedule(static) if (should_parallelize(n * 16))
    for (int64_t i = 0; i < n; ++i) p[i] = T(draw(seed, offset, uint64_t(i)));
  });
  if (device == Device::cpu) return host;
  Tensor dev = empty(shape, dtype, device);
  copy_into(dev, host);
  return dev;
}
}  // namespace

Tensor rand(const Shape& shape, DType dtype, Device device, double low, double high, Generator& gen) {
  HQLT_CHECK(is_floating(dtype), "rand: expected a float dtype, got ", dtype_name(dtype));
  return generate(shape, dtype, device, gen, [&](uint64_t s, uint64_t o, uint64_t i) {
    return low + (high - low) * uniform_at(s, o, i);
  });
}

Tensor randn(const Shape& shape, DType dtype, Device device, double mean, double std, Generator& gen) {
  HQLT_CHECK(is_floating(dtype), "randn: expected a float dtype, got ", dtype_name(dtype));
  return generate(shape, dtype, device, gen, [&](uint64_t s, uint64_t o, uint64_t i) {
    return mean + std * normal_at(s, o, i);
  });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype, Generator& gen) {
  HQLT_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  HQLT_CHECK(!is_floating(dtype), "randint: expected an index dtype, got ", dtype_name(dtype));
  double span = double(high - low);
  return generate(shape, dtype, Device::cpu, gen, [&](uint64_t s, uint64_t o, uint64_t i) {
    return double(low + std::min<int64_t>(int64_t(uniform_at(s, o, i) * span), high - low - 1));
  });
}

}  // namespace hqlt
