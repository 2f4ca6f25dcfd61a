// The reshape family: views share storage, gradients flow back through them, and bad
// arguments are refused with a clear message.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "ops/elementwise/elementwise.h"
#include "ops/shape/views.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck reshape") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].reshape({4, -1}); }, (Ts{leaf({2, 3, 2})}));
    // A non-contiguous input must be copied before it can be re-read in a new shape.
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].reshape({15}); }, (Ts{leaf_transposed({3, 5})}));
  }
  TEST_CASE("gradcheck transpose") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].transpose(0, 2); }, (Ts{leaf({2, 3, 4})}));
  }
  TEST_CASE("gradcheck permute") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].permute({2, 0, 1}); }, (Ts{leaf({2, 3, 4})}));
  }
  TEST_CASE("gradcheck slice") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].slice(1, 1, 4); }, (Ts{leaf({2, 5})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].slice(0, 0, 7, 3); }, (Ts{leaf({7, 2})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].slice(-1, -2, 100); }, (Ts{leaf({3, 4})}));
  }
  TEST_CASE("gradcheck unsqueeze and squeeze") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].unsqueeze(1); }, (Ts{leaf({2, 3})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].unsqueeze(-1); }, (Ts{leaf({2, 3})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].squeeze(1); }, (Ts{leaf({2, 1, 3})}));
  }
  TEST_CASE("gradcheck expand") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].expand({4, 2, 3}); }, (Ts{leaf({2, 1})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].expand({3, -1}); }, (Ts{leaf({1, 5})}));
  }
  TEST_CASE("gradcheck contiguous") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0].contiguous(); }, (Ts{leaf_transposed({3, 4})}));
  }
  TEST_CASE("gradcheck to_dtype") {
    auto f = [](const Ts& x) { return to_dtype(to_dtype(x[0], DType::f32), x[0].dtype()) * 1.0; };
    auto r = gradcheck(f, Ts{leaf({3})}, GradcheckOptions{1e-3, 1e-4, 1e-3});  // through f32: coarse
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_SUITE("unit") {
  TEST_CASE("views share storage and read the right elements") {
    Tensor x = arange(0, 12, 1, DType::f64).reshape({3, 4});
    Tensor t = x.transpose(0, 1);
    CHECK(t.shape() == Shape{4, 3});
    CHECK_FALSE(t.is_contiguous());
    CHECK(t.impl()->storage == x.impl()->storage);
    CHECK(t.to_vector() == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
    CHECK(x.slice(1, 1, 4, 2).to_vector() == std::vector<double>{1, 3, 5, 7, 9, 11});
    CHECK(x.slice(0, -1, 3).to_vector() == std::vector<double>{8, 9, 10, 11});
    CHECK(x.slice(0, 5, 9).numel() == 0);
    CHECK(x.unsqueeze(0).shape() == Shape{1, 3, 4});
    CHECK(x.slice(0, 0, 1).squeeze(0).to_vector() == std::vector<double>{0, 1, 2, 3});
    Tensor e = from_vector({1, 2}, {2, 1}).expand({2, 3});
    CHECK(e.to_vector() == std::vector<double>{1, 1, 1, 2, 2, 2});
    CHECK(e.strides()[1] == 0);
    CHECK(t.contiguous().is_contiguous());
    CHECK(t.contiguous().to_vector() == t.to_vector());
  }
  TEST_CASE("view bad input") {
    Tensor x = zeros({3, 4});
    CHECK_THROWS_WITH_AS(x.reshape({5, -1}), doctest::Contains("cannot infer"), Error);
    CHECK_THROWS_WITH_AS(x.reshape({-1, -1}), doctest::Contains("only one size may be -1"), Error);
    CHECK_THROWS_WITH_AS(x.reshape({5, 2}), doctest::Contains("does not fit 12 elements"), Error);
    CHECK_THROWS_WITH_AS(x.transpose(0, 2), doctest::Contains("out of range"), Error);
    CHECK_THROWS_WITH_AS(x.permute({0, 0}), doctest::Contains("appears twice"), Error);
    CHECK_THROWS_WITH_AS(x.squeeze(0), doctest::Contains("expected 1"), Error);
    CHECK_THROWS_WITH_AS(x.expand({3, 5}), doctest::Contains("cannot expand"), Error);
    CHECK_THROWS_WITH_AS(x.slice(0, 0, 2, 0), doctest::Contains("step must be positive"), Error);
  }
}
