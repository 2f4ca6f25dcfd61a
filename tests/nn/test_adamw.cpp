// AdamW: a two-step update worked out by hand; many steps on random tensors against the
// textbook formulas in a naive loop (two groups, f32 and f64, a parameter without a
// gradient); the state saved and restored continues with the same bits; decay_groups;
// bad options.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/rng.h"
#include "nn/adamw.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/rms_norm.h"

using namespace hqlt;
using namespace hqlt::nn;

namespace {

Tensor param(const std::vector<double>& v, DType dtype = DType::f64) {
  Tensor t = from_vector(v, {int64_t(v.size())}, dtype);
  t.set_requires_grad(true);
  return t;
}

void set_grad(const Tensor& p, const std::vector<double>& g) {
  Tensor(p).set_grad(from_vector(g, p.shape(), p.dtype()));
}

// The textbook update of the header, one element, in double.
struct NaiveAdamW {
  double m = 0, v = 0;
  int64_t t = 0;
  void step(double& p, double g, const AdamWOptions& o, double wd) {
    ++t;
    p *= 1 - o.lr * wd;
    m = o.beta1 * m + (1 - o.beta1) * g;
    v = o.beta2 * v + (1 - o.beta2) * g * g;
    double m_hat = m / (1 - std::pow(o.beta1, double(t)));
    double v_hat = v / (1 - std::pow(o.beta2, double(t)));
    // √v̂ = √v / √(1 − β2^t): the same denominator as PyTorch's √v/√bc2 + ε.
    p -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
  }
};

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("nn::AdamW two steps by hand") {
    // lr 0.1, β = (0.9, 0.999), ε = 1e-8, λ = 0.01; p = [1, -2]; g1 = [0.5, -1]; g2 = [-0.25, 0].
    // Step 1: p·0.999; m = 0.1·g1 = [0.05, -0.1]; v = 0.001·g1² = [0.00025, 0.001];
    //   step size lr/(1-0.9) = 1, denominator √v/√0.001 + ε = [0.5, 1] + 1e-8:
    //   p = [0.999 - 0.05/(0.5+1e-8), -1.998 + 0.1/(1+1e-8)] = [0.899000002, -1.898000001].
    // Step 2: m = [0.02, -0.09]; v = [0.00031225, 0.000999]; bc1 = 0.19, bc2 = 0.001999:
    //   p = p·0.999 - (0.1/0.19)·m/(√v/√0.001999 + 1e-8) = [0.8714672987058463, -1.8290961765331886].
    Tensor p = param({1.0, -2.0});
    AdamW opt({{"p", p}}, AdamWOptions{0.1, 0.9, 0.999, 1e-8, 0.01});
    set_grad(p, {0.5, -1.0});
    opt.step();
    std::vector<double> v1 = p.to_vector();
    CHECK(v1[0] == doctest::Approx(0.899000002).epsilon(1e-14));
    CHECK(v1[1] == doctest::Approx(-1.898000001).epsilon(1e-14));
    CHECK(opt.state("p").step == 1);
    CHECK(opt.state("p").exp_avg.to_vector()[1] == doctest::Approx(-0.1).epsilon(1e-14));
    set_grad(p, {-0.25, 0.0});
    opt.step();
    std::vector<double> v2 = p.to_vector();
    CHECK(v2[0] == doctest::Approx(0.8714672987058463).epsilon(1e-14));
    CHECK(v2[1] == doctest::Approx(-1.8290961765331886).epsilon(1e-14));
    CHECK(opt.state("p").exp_avg_sq.to_vector()[0] == doctest::Approx(0.00031225).epsilon(1e-12));
    CHECK(opt.state("p").step == 2);
  }

  TEST_CASE("nn::AdamW against the textbook formulas on random tensors") {
    for (DType dtype : {DType::f64, DType::f32}) {
      CAPTURE(dtype);
      const double tol = dtype == DType::f64 ? 1e-12 : 2e-5;
      Tensor a = randn({40, 30}, dtype), b = randn({7}, dtype), c = randn({3}, dtype);
      for (Tensor* t : {&a, &b, &c}) t->set_requires_grad(true);
      AdamWOptions o{3e-3, 0.8, 0.95, 1e-6, 0.0};
      AdamW opt({ParamGroup{{{"a", a}, {"c", c}}, 0.1}, ParamGroup{{{"b", b}}, 0.0}}, o);
      std::vector<double> pa = a.to_vector(), pb = b.to_vector(), pc = c.to_vector();
      std::vector<NaiveAdamW> na(pa.size()), nb(pb.size()), nc(pc.size());
      for (int step = 0; step < 5; ++step) {
        if (step == 3) opt.set_lr(1e-3), o.lr = 1e-3;  // a schedule changes the lr between steps
        Tensor ga = randn(a.shape(), dtype, Device::cpu, 0, 2.0), gb = randn(b.shape(), dtype);
        a.set_grad(ga);
        b.set_grad(gb);
        c.zero_grad();  // c never gets a gradient: it must not move, and its step stays 0
        opt.step();
        std::vector<double> gav = ga.to_vector(), gbv = gb.to_vector();
        for (size_t i = 0; i < pa.size(); ++i) na[i].step(pa[i], gav[i], o, 0.1);
        for (size_t i = 0; i < pb.size(); ++i) nb[i].step(pb[i], gbv[i], o, 0.0);
        std::vector<double> got_a = a.to_vector(), got_b = b.to_vector();
        for (size_t i = 0; i < pa.size(); ++i) {
          CAPTURE(i);
          CHECK(std::abs(got_a[i] - pa[i]) <= tol * (1 + std::abs(pa[i])));
        }
        for (size_t i = 0; i < pb.size(); ++i) CHECK(std::abs(got_b[i] - pb[i]) <= tol * (1 + std::abs(pb[i])));
      }
      CHECK(c.to_vector() == pc);
      CHECK(opt.state("c").step == 0);
      CHECK(opt.state("a").step == 5);
    }
  }

  TEST_CASE("nn::AdamW state round trip continues with the same bits") {
    auto run = [](Tensor& p, AdamW& opt, int steps, uint64_t seed) {
      Generator gen{seed, 0};
      for (int i = 0; i < steps; ++i) {
        p.set_grad(randn(p.shape(), DType::f32, Device::cpu, 0, 1, gen));
        opt.step();
      }
    };
    AdamWOptions o{1e-2, 0.9, 0.99, 1e-8, 0.05};
    Tensor p = randn({5, 6});
    p.set_requires_grad(true);
    AdamW opt({{"w", p}}, o);
    run(p, opt, 3, 1);

    // Copy the parameter and the optimiser state, as a checkpoint would.
    Tensor q = clone_contiguous(p);
    q.set_requires_grad(true);
    StateDict saved;
    for (auto& [k, t] : opt.state_dict()) saved.emplace(k, clone_contiguous(t));
    CHECK(saved.size() == 3);
    CHECK(saved.at("w.step").dtype() == DType::i64);
    CHECK(saved.at("w.step").item() == 3);

    AdamW restored({{"w", q}}, o);
    restored.load_state_dict(saved);
    run(p, opt, 2, 7);
    run(q, restored, 2, 7);
    CHECK(p.to_vector() == q.to_vector());
    CHECK(restored.state("w").step == 5);

    SUBCASE("bad state") {
      StateDict bad = saved;
      bad["w.exp_avg"] = zeros({5, 5});
      CHECK_THROWS_WITH_AS(restored.load_state_dict(bad), doctest::Contains("'w.exp_avg': expected shape [5, 6]"),
                           Error);
      bad = saved;
      bad.erase("w.exp_avg_sq");
      CHECK_THROWS_WITH_AS(restored.load_state_dict(bad), doctest::Contains("needs all of"), Error);
      bad = saved;
      bad["v.step"] = saved.at("w.step");
      CHECK_THROWS_WITH_AS(restored.load_state_dict(bad), doctest::Contains("'v.step' does not name"), Error);
      CHECK(restored.state("w").step == 5);  // failed loads changed nothing
    }
  }

  TEST_CASE("nn::decay_groups leaves norms - biases and embeddings undecayed") {
    struct Net : Module {
      std::shared_ptr<Embedding> embeddings = register_module("embeddings", std::make_shared<Embedding>(10, 4));
      std::shared_ptr<RMSNorm> norm = register_module("norm", std::make_shared<RMSNorm>(4));
      std::shared_ptr<Linear> proj = register_module("proj", std::make_shared<Linear>(4, 4, true));
    } net;
    auto names = [](const ParamGroup& g) {
      std::vector<std::string> out;
      for (auto& [n, t] : g.params) out.push_back(n);
      return out;
    };
    std::vector<ParamGroup> groups = decay_groups(net, 0.1);
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].weight_decay == 0.1);
    CHECK(names(groups[0]) == std::vector<std::string>{"proj.weight"});
    CHECK(groups[1].weight_decay == 0.0);
    CHECK(names(groups[1]) == std::vector<std::string>{"embeddings.weight", "norm.weight", "proj.bias"});
    std::vector<ParamGroup> all = decay_groups(net, 0.1, /*decay_everything=*/true);
    REQUIRE(all.size() == 1);
    CHECK(all[0].params.size() == 4);
  }

  TEST_CASE("nn::AdamW bad arguments") {
    Tensor p = param({1.0});
    CHECK_THROWS_WITH_AS(AdamW({{"p", p}}, AdamWOptions{-1.0}), doctest::Contains("lr must be >= 0"), Error);
    CHECK_THROWS_WITH_AS(AdamW({{"p", p}}, AdamWOptions{1e-3, 1.0}), doctest::Contains("beta1"), Error);
    CHECK_THROWS_WITH_AS(AdamW({{"p", p}, {"p", p}}, AdamWOptions{}), doctest::Contains("appears twice"), Error);
    CHECK_THROWS_WITH_AS(AdamW({{"p", p}, {"q", p}}, AdamWOptions{}), doctest::Contains("listed twice"), Error);
    Tensor strided = randn({3, 4}).transpose(0, 1);
    CHECK_THROWS_WITH_AS(AdamW({{"s", strided}}, AdamWOptions{}), doctest::Contains("contiguous leaf"), Error);
    AdamW opt({{"p", p}}, AdamWOptions{});
    CHECK_THROWS_WITH_AS(opt.state("nope"), doctest::Contains("no parameter named 'nope'"), Error);
    p.set_grad(zeros({2}, DType::f64));
    CHECK_THROWS_WITH_AS(opt.step(), doctest::Contains("the gradient of 'p'"), Error);
  }
}
