// The host-side halves of the cuda kernels, checked on the CPU (no GPU needed): the
// strided walk every generic kernel uses (engine/cuda/strided.h) against plain strided indexing,
// and the elementwise math (ops/elementwise/elementwise_math.h) against the CPU ops and their
// autograd gradients.
#include <doctest/doctest.h>

#include <vector>

#include "check_close.h"
#include "engine/cuda/strided.h"
#include "engine/tensor.h"
#include "ops/elementwise/elementwise.h"
#include "ops/elementwise/elementwise_math.h"

using namespace hqlt;
using detail::BinaryKind;
using detail::UnaryKind;

namespace {

// Offsets of every logical element, the slow way: row-major coordinates times strides.
std::vector<int64_t> reference_offsets(const Shape& shape, const Strides& strides) {
  std::vector<int64_t> out;
  const int64_t n = numel_of(shape);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = 0;
    for (size_t d = shape.size(); d-- > 0;) {
      off += (rem % shape[d]) * strides[d];
      rem /= shape[d];
    }
    out.push_back(off);
  }
  return out;
}

void check_walk(const Shape& shape, const Strides& a, const Strides& b) {
  cuda::StridedGeometry g = cuda::make_geometry("test", shape, {a, b});
  std::vector<int64_t> ra = reference_offsets(shape, a), rb = reference_offsets(shape, b);
  for (int64_t i = 0; i < numel_of(shape); ++i) {
    int64_t off[2];
    cuda::offsets_of<2>(g, i, off);
    REQUIRE(off[0] == ra[size_t(i)]);
    REQUIRE(off[1] == rb[size_t(i)]);
  }
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("cuda strided walk matches plain strided indexing") {
    // Contiguous: one flat run.
    cuda::StridedGeometry flat = cuda::make_geometry("test", {2, 3, 4}, {{12, 4, 1}, {12, 4, 1}});
    CHECK(flat.flat);
    CHECK(flat.rank == 1);
    check_walk({2, 3, 4}, {12, 4, 1}, {12, 4, 1});
    // Transposed input against a contiguous output.
    cuda::StridedGeometry tr = cuda::make_geometry("test", {4, 3, 2}, {{6, 2, 1}, {1, 4, 12}});
    CHECK_FALSE(tr.flat);
    CHECK(tr.rank == 3);
    check_walk({4, 3, 2}, {6, 2, 1}, {1, 4, 12});
    // Broadcast (stride 0) and a sliced, stepped view; size-1 dims dropped.
    check_walk({5, 1, 3, 4}, {12, 12, 4, 1}, {0, 0, 1, 0});
    check_walk({3, 2, 2}, {4, 2, 1}, {40, 14, 3});
    // Merging stops where one operand is not back to back.
    cuda::StridedGeometry part = cuda::make_geometry("test", {2, 3, 4}, {{12, 4, 1}, {24, 4, 1}});
    CHECK(part.rank == 2);
    check_walk({2, 3, 4}, {12, 4, 1}, {24, 4, 1});
    // A scalar (rank 0).
    check_walk({}, {}, {});
  }

  TEST_CASE("cuda strided walk refuses more dims than it can hold") {
    Shape shape(9, 2);
    Strides odd(9);
    for (size_t d = 0; d < 9; ++d) odd[d] = int64_t(1) << (2 * (8 - d) + 1);  // never mergeable
    CHECK_THROWS_WITH_AS(cuda::make_geometry("add", shape, {odd}), doctest::Contains("add: a cuda kernel walks at most 8"),
                         Error);
  }

  TEST_CASE("cuda elementwise math mirrors the CPU ops and their gradients") {
    struct Case {
      UnaryKind kind;
      double scalar;
      bool derivative_of_output;  // the kernel gets y, not x (see elementwise.cpp)
      Tensor (*cpu)(const Tensor&);
    };
    static double s_add = 0.75, s_mul = -1.25, s_pow = 2.5, s_rdiv = 3.0;
    const Case cases[] = {
        {UnaryKind::add_scalar, s_add, false, [](const Tensor& x) { return add_scalar(x, s_add); }},
        {UnaryKind::mul_scalar, s_mul, false, [](const Tensor& x) { return mul_scalar(x, s_mul); }},
        {UnaryKind::pow, s_pow, false, [](const Tensor& x) { return pow_scalar(x, s_pow); }},
        {UnaryKind::rdiv_scalar, s_rdiv, false, [](const Tensor& x) { return rdiv_scalar(s_rdiv, x); }},
        {UnaryKind::neg, 0, false, [](const Tensor& x) { return neg(x); }},
        {UnaryKind::exp, 0, true, [](const Tensor& x) { return exp(x); }},
        {UnaryKind::log, 0, false, [](const Tensor& x) { return log(x); }},
        {UnaryKind::sqrt, 0, true, [](const Tensor& x) { return sqrt(x); }},
        {UnaryKind::rsqrt, 0, true, [](const Tensor& x) { return rsqrt(x); }},
        {UnaryKind::abs, 0, false, [](const Tensor& x) { return abs(x); }},
        {UnaryKind::sigmoid, 0, true, [](const Tensor& x) { return sigmoid(x); }},
        {UnaryKind::silu, 0, false, [](const Tensor& x) { return silu(x); }},
        {UnaryKind::elu_plus_one, 0, false, [](const Tensor& x) { return elu_plus_one(x); }},
    };
    const std::vector<double> xs{0.3, 1.7, 0.05, 2.9, 0.9};  // positive: inside every domain
    const std::vector<double> signed_xs{-1.3, 0.4, -0.2, 2.1, -2.9};
    for (const Case& c : cases) {
      INFO("unary kind " << int(c.kind));
      const bool positive_only = c.kind == UnaryKind::pow || c.kind == UnaryKind::log ||
                                 c.kind == UnaryKind::sqrt || c.kind == UnaryKind::rsqrt ||
                                 c.kind == UnaryKind::rdiv_scalar;
      const std::vector<double>& in = positive_only ? xs : signed_xs;
      Tensor x = from_vector(in, {int64_t(in.size())}, DType::f64).set_requires_grad(true);
      Tensor y = c.cpu(x);
      y.backward(ones(y.shape(), DType::f64));
      std::vector<double> yv = y.to_vector(), gv = x.grad().to_vector(), fy, dy;
      for (size_t i = 0; i < in.size(); ++i) {
        fy.push_back(detail::unary_f<double>(c.kind, in[i], c.scalar));
        dy.push_back(detail::unary_d<double>(c.kind, c.derivative_of_output ? yv[i] : in[i], c.scalar));
      }
      testing::check_close(fy, yv, 1e-14);
      testing::check_close(dy, gv, 1e-14);
    }
    using Bin = Tensor (*)(const Tensor&, const Tensor&);
    const std::pair<BinaryKind, Bin> binaries[] = {
        {BinaryKind::add, add}, {BinaryKind::sub, sub}, {BinaryKind::mul, mul}, {BinaryKind::div, div},
        {BinaryKind::swiglu, swiglu}};
    for (const auto& [kind, op] : binaries) {
      INFO("binary kind " << int(kind));
      Tensor a = from_vector(signed_xs, {5}, DType::f64).set_requires_grad(true);
      Tensor b = from_vector(xs, {5}, DType::f64).set_requires_grad(true);
      Tensor out = op(a, b);
      out.backward(ones({5}, DType::f64));
      std::vector<double> f, da, db;
      for (size_t i = 0; i < 5; ++i) {
        f.push_back(detail::binary_f<double>(kind, signed_xs[i], xs[i]));
        da.push_back(detail::binary_da<double>(kind, signed_xs[i], xs[i]));
        db.push_back(detail::binary_db<double>(kind, signed_xs[i], xs[i]));
      }
      testing::check_close(f, out.to_vector(), 1e-14);
      testing::check_close(da, a.grad().to_vector(), 1e-14);
      testing::check_close(db, b.grad().to_vector(), 1e-14);
    }
  }
}
