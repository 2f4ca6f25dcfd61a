// hqlt demo: the smallest end-to-end training run. A two-layer network with an embedding
// learns to predict the next token of sequences that follow a hidden rule (each token is
// followed by (3·token + 1) mod V, with 10% noise), by plain SGD with momentum. The loss
// starts near ln V and falls towards the noise floor; every step goes through the tape,
// the GEMM and the fused cross-entropy.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/autograd.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "ops/elementwise/elementwise.h"
#include "ops/embedding/embedding.h"
#include "ops/loss/cross_entropy.h"
#include "ops/matmul/matmul.h"

namespace hqlt::cli {
namespace {

constexpr const char* kDemoUsage =
    "usage: hqlt demo [--steps N] [--threads N] [--seed S]\n"
    "  trains a tiny next-token model on a synthetic rule and prints its loss falling\n";

struct DemoOptions {
  int steps = 300;
  int threads = 0;
  uint64_t seed = 1;
};

// A batch of sequences: x[i] is a token, y[i] the token that follows it under the rule.
void make_batch(int64_t batch, int64_t vocab, Generator& gen, Tensor& x, Tensor& y) {
  x = randint(0, vocab, {batch}, DType::i64, gen);
  Tensor noise = rand({batch}, DType::f64, Device::cpu, 0, 1, gen);
  Tensor random_next = randint(0, vocab, {batch}, DType::i64, gen);
  y = empty({batch}, DType::i64);
  const int64_t* xp = x.data<int64_t>();
  const double* np = noise.data<double>();
  const int64_t* rp = random_next.data<int64_t>();
  int64_t* yp = y.data<int64_t>();
  for (int64_t i = 0; i < batch; ++i) yp[i] = np[i] < 0.1 ? rp[i] : (3 * xp[i] + 1) % vocab;
}

}  // namespace

int demo(const Args& args) {
  DemoOptions opt;
  ArgReader r("demo", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kDemoUsage, stdout);
      return 0;
    } else if (r.is("--steps")) {
      opt.steps = int(r.positive_int());
    } else if (r.is("--threads")) {
      opt.threads = int(r.positive_int());
    } else if (r.is("--seed")) {
      opt.seed = uint64_t(r.positive_int());
    } else {
      r.unknown();
    }
  }
  set_num_threads(opt.threads);

  const int64_t vocab = 64, dim = 64, hidden = 256, batch = 512;
  const double lr = 0.5, momentum = 0.9;
  Generator gen{opt.seed, 0};
  // Parameters, scaled so the first logits are small and the loss starts near ln(vocab).
  Tensor embed = randn({vocab, dim}, DType::f32, Device::cpu, 0, 1.0, gen);
  Tensor w1 = randn({dim, hidden}, DType::f32, Device::cpu, 0, 1.0 / std::sqrt(double(dim)), gen);
  Tensor w2 = randn({hidden, vocab}, DType::f32, Device::cpu, 0, 0.1 / std::sqrt(double(hidden)), gen);
  std::vector<Tensor> params{embed, w1, w2}, velocity;
  for (Tensor& p : params) {
    p.set_requires_grad(true);
    velocity.push_back(zeros_like(p));
  }

  std::printf("hqlt demo: next-token rule over %lld tokens, batch %lld, %d steps, %d threads\n",
              (long long)vocab, (long long)batch, opt.steps, num_threads());
  std::printf("loss at the start should be near ln(%lld) = %.3f; the noise floor is about %.3f\n",
              (long long)vocab, std::log(double(vocab)),
              -(0.9 + 0.1 / vocab) * std::log(0.9 + 0.1 / vocab) - (vocab - 1) * (0.1 / vocab) * std::log(0.1 / vocab));
  auto start = std::chrono::steady_clock::now();
  double first = 0, last = 0;
  for (int step = 1; step <= opt.steps; ++step) {
    Tensor x, y;
    make_batch(batch, vocab, gen, x, y);
    Tensor h = silu(matmul(embedding(embed, x), w1));
    Tensor loss = cross_entropy(matmul(h, w2), y);
    loss.backward();
    {
      // SGD with momentum: v = μ v + g; p -= lr v.
      NoGrad no_grad;
      for (size_t i = 0; i < params.size(); ++i) {
        float* p = params[i].data<float>();
        float* v = velocity[i].data<float>();
        const float* g = params[i].grad().data<float>();
        for (int64_t j = 0; j < params[i].numel(); ++j) {
          v[j] = float(momentum) * v[j] + g[j];
          p[j] -= float(lr) * v[j];
        }
        params[i].zero_grad();
      }
    }
    last = loss.item();
    if (step == 1) first = last;
    if (step == 1 || step % 25 == 0 || step == opt.steps) std::printf("step %4d  loss %.4f\n", step, last);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("loss %.3f -> %.3f in %.2f s (%.1f ms/step)\n", first, last, seconds, 1000 * seconds / opt.steps);
  return last < first ? 0 : 1;
}

}  // namespace hqlt::cli
