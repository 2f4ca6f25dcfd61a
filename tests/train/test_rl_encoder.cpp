// The observation encoders (train/rl/encoder.h): the image encoder against the definition
// written as plain loops, on a real view of Visual Match and on leading dims [T+1, B]; the
// vector encoder's shape; the encoder each environment gets.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "engine/error.h"
#include "train/rl/encoder.h"

using namespace hqlt;
using namespace hqlt::train;
using namespace hqlt::train::rl;

namespace {

// One valid 2x2 convolution + bias + ReLU, channel-major [C, H, W] -> [O, H-1, W-1].
std::vector<double> conv_relu(const std::vector<double>& x, int64_t c_in, int64_t size, const std::vector<double>& w,
                              const std::vector<double>& b, int64_t c_out) {
  const int64_t out = size - 1;
  std::vector<double> y(size_t(c_out * out * out));
  for (int64_t o = 0; o < c_out; ++o)
    for (int64_t i = 0; i < out; ++i)
      for (int64_t j = 0; j < out; ++j) {
        double acc = b[size_t(o)];
        for (int64_t c = 0; c < c_in; ++c)
          for (int64_t p = 0; p < 2; ++p)
            for (int64_t q = 0; q < 2; ++q)
              acc += w[size_t(((o * c_in + c) * 2 + p) * 2 + q)] * x[size_t((c * size + i + p) * size + j + q)];
        y[size_t((o * out + i) * out + j)] = std::max(acc, 0.0);
      }
  return y;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("the image encoder computes its definition on a Visual Match view") {
    Generator gen{4, 0};
    ImageEncoder enc(10, gen);
    auto env = make_env({"visual_match", 3, 2});
    const Observation obs = env->reset(Split::train, 0);
    std::vector<double> x(obs.begin(), obs.end());
    for (double& v : x) v /= 255.0;
    const auto p = [&](const char* name) { return enc.parameter(name).to_vector(); };
    const std::vector<double> h1 = conv_relu(x, 3, 5, p("conv1.weight"), p("conv1.bias"), 8);
    const std::vector<double> h2 = conv_relu(h1, 8, 4, p("conv2.weight"), p("conv2.bias"), 16);
    const std::vector<double> w = p("linear.weight"), b = p("linear.bias");
    std::vector<double> want(10);
    for (int64_t o = 0; o < 10; ++o) {
      want[size_t(o)] = b[size_t(o)];
      for (int64_t k = 0; k < 144; ++k) want[size_t(o)] += w[size_t(o * 144 + k)] * h2[size_t(k)];
    }
    // The same view at two positions of a [T+1 = 2, B = 1] batch.
    std::vector<float> two(obs);
    two.insert(two.end(), obs.begin(), obs.end());
    const Tensor got = enc.forward(from_vector(std::vector<double>(two.begin(), two.end()), {2, 1, 75}, DType::f32));
    REQUIRE(got.shape() == Shape{2, 1, 10});
    const std::vector<double> g = got.to_vector();
    for (int64_t o = 0; o < 10; ++o) {
      CHECK(g[size_t(o)] == doctest::Approx(want[size_t(o)]).epsilon(1e-5));
      CHECK(g[size_t(10 + o)] == g[size_t(o)]);
    }
    CHECK_THROWS_WITH_AS(enc.forward(zeros({2, 74})), doctest::Contains("[..., 75]"), Error);
  }

  TEST_CASE("each environment gets the encoder its observations need") {
    Generator gen{1, 0};
    auto maze = make_env({"passive_tmaze", 4, 1});
    auto enc = make_encoder(*maze, 12, gen);
    CHECK(enc->type_name() == "VectorEncoder");
    CHECK(enc->forward(zeros({3, 2, 2})).shape() == Shape{3, 2, 12});
    CHECK(make_encoder(*make_env({"key_to_door", 4, 1}), 12, gen)->type_name() == "ImageEncoder");
  }
}
