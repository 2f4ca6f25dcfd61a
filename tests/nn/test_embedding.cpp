// Embedding module: rows by id, parameter name and shape, padding_idx keeps its row's
// gradient at zero, bad arguments.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/rng.h"
#include "nn/embedding.h"
#include "ops/reduce/reduce.h"

using namespace hqlt;
using namespace hqlt::nn;

TEST_SUITE("unit") {
  TEST_CASE("nn::Embedding reads rows and respects padding_idx") {
    Embedding emb(6, 3, /*padding_idx=*/2);
    CHECK(emb.named_parameters().size() == 1);
    CHECK(emb.named_parameters()[0].first == "weight");
    CHECK(emb.weight.shape() == Shape{6, 3});
    Tensor ids = from_vector({0, 2, 5, 2, 1, 0}, {2, 3}, DType::i64);
    Tensor out = emb.forward(ids);
    CHECK(out.shape() == Shape{2, 3, 3});
    std::vector<double> w = emb.weight.to_vector(), o = out.to_vector();
    const int64_t id[] = {0, 2, 5, 2, 1, 0};
    for (int64_t s = 0; s < 6; ++s)
      for (int64_t d = 0; d < 3; ++d) CHECK(o[size_t(s * 3 + d)] == w[size_t(id[s] * 3 + d)]);
    // The padding row is read as it is (not zeroed) but gets no gradient.
    sum(out).backward();
    std::vector<double> g = emb.weight.grad().to_vector();
    for (int64_t d = 0; d < 3; ++d) {
      CHECK(g[size_t(0 * 3 + d)] == 2.0);
      CHECK(g[size_t(2 * 3 + d)] == 0.0);
      CHECK(g[size_t(5 * 3 + d)] == 1.0);
      CHECK(g[size_t(3 * 3 + d)] == 0.0);
    }
  }

  TEST_CASE("nn::Embedding bad arguments") {
    CHECK_THROWS_WITH_AS(Embedding(4, 3, 4), doctest::Contains("padding_idx"), Error);
    CHECK_THROWS_WITH_AS(Embedding(0, 3), doctest::Contains("num_embeddings >= 1"), Error);
    Embedding emb(4, 3);
    CHECK_THROWS_AS(emb.forward(from_vector({1, 4}, {2}, DType::i64)), Error);
    CHECK_THROWS_AS(emb.forward(from_vector({1, 2}, {2}, DType::f32)), Error);
    CHECK_THROWS_WITH_AS(emb.forward(Tensor()), doctest::Contains("undefined"), Error);
  }
}
