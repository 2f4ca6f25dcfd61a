// A model's loss and gradients do not depend on the number of threads: every parallel loop
// either gives each thread whole outputs or adds its partial sums in an order fixed by the
// shape (the GEMM's depth split adds its K blocks in the one-thread order, the long sums
// their fixed blocks). So a run can be resumed or repeated with another --threads and
// compute the same bits. Checked here on every family and HQLT mode at the parity recipe's
// width, where the weight gradients take the GEMM's depth split, in f32 with real values:
// any change of summation order would show in the last bits.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "model_test_utils.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::models;
using namespace hqlt::models::testing;

namespace {

struct Pass {
  std::vector<double> loss;
  std::vector<std::vector<double>> grads;
};

// One forward and backward pass of `model` on `ids` with `threads` threads.
Pass run_with(CausalLM& model, const Tensor& ids, int threads) {
  const hqlt::testing::ThreadCount scope(threads);
  model.zero_grad();
  const Tensor loss = weighted_loss(model.forward(ids));
  loss.backward();
  Pass out{loss.to_vector(), {}};
  for (auto& [name, p] : model.named_parameters()) out.grads.push_back(p.grad().to_vector());
  return out;
}

// The variant at the parity recipe's width: D = 128, 4 heads, MLP 512.
ModelConfig at_recipe_width(ModelConfig c) {
  c.hidden_size = 128;
  c.num_heads = 4;
  c.intermediate_size = 512;
  c.initializer_range = 0.02;
  if (c.attn) c.attn->num_heads = 4, c.attn->num_kv_heads = 2;
  if (c.num_kv_heads) c.num_kv_heads = 2;
  return c;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("a model's loss and gradients are the same bits with one and with two threads") {
    // batch 16 x 80 tokens: the weight gradients are [128, 128] (and [512, 128]) sums over
    // k = 1280 rows, which two threads split by depth.
    const Tensor ids = token_ids(16, 80, 11, 5);
    for (const std::string name :
         {"transformer", "transformer window 3, GQA 2:1", "delta_net short conv",
          "delta_net, attention at layer 1 (4 heads, GQA 2, bias, window 5)", "hqlt sync_chunk vector gate, RoPE",
          "hqlt delayed vector gate, short conv", "hqlt chunk vector gate, fw block = chunk"}) {
      CAPTURE(name);
      Generator gen{3, 0};
      CausalLM model(at_recipe_width(variant(name).config), gen);
      const Pass one = run_with(model, ids, 1);
      const Pass two = run_with(model, ids, 2);
      CHECK(one.loss == two.loss);
      REQUIRE(one.grads.size() == two.grads.size());
      size_t differing = 0;
      for (size_t i = 0; i < one.grads.size(); ++i) differing += one.grads[i] != two.grads[i];
      CHECK(differing == 0);
    }
  }
}
