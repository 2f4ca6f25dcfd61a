// Sampling (train/sampling.h) against hand-computed answers and a plain softmax: greedy,
// top-k, the empirical distribution, reproducibility, bad options; the decoding loop
// against one full-sequence forward; and the errors of `hqlt generate`.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "io/json.h"
#include "models/causal_lm.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "models/model_fixtures.h"
#include "train/sampling.h"

using namespace hqlt;
using hqlt::train::SamplingOptions;
using hqlt::train::sample_token;

namespace {

// The lowest id holding the largest value, by a plain scan.
int64_t plain_argmax(const std::vector<float>& x) {
  int64_t best = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i] > x[size_t(best)]) best = int64_t(i);
  return best;
}

// softmax(x / T) over the ids in `ids`, computed directly (no max subtraction).
std::vector<double> plain_softmax(const std::vector<float>& x, double t, const std::vector<int64_t>& ids) {
  std::vector<double> p(x.size(), 0.0);
  double total = 0;
  for (int64_t i : ids) total += std::exp(double(x[size_t(i)]) / t);
  for (int64_t i : ids) p[size_t(i)] = std::exp(double(x[size_t(i)]) / t) / total;
  return p;
}

std::vector<int64_t> draw(const std::vector<float>& logits, const SamplingOptions& o, Generator& gen, int n) {
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(sample_token(logits.data(), int64_t(logits.size()), o, gen));
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

models::ModelConfig tiny_byte_config() {
  models::ModelConfig c = models::default_config(models::ModelType::transformer);
  c.vocab_size = 256;
  c.hidden_size = 32;
  c.num_hidden_layers = 1;
  c.num_heads = 2;
  return c;
}

// The byte model above in each family: decoding goes through every family's cached step.
std::vector<models::ModelConfig> byte_configs_of_every_family() {
  models::ModelConfig d = tiny_byte_config();
  d.model_type = models::ModelType::delta_net;
  models::ModelConfig h = tiny_byte_config();
  h.model_type = models::ModelType::hybrid_qlt;
  h.qk_activation = "identity";
  h.attn_mode = models::AttnMode::chunk;
  h.chunk_size = 8;
  return {tiny_byte_config(), d, h};
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("draw_categorical picks the first id whose cumulative probability exceeds the draw") {
    using hqlt::train::draw_categorical;
    const std::vector<double> p = {0.25, 0, 0.5, 0.25};  // cumulative 0.25, 0.25, 0.75, 1 (exact in binary)
    CHECK(draw_categorical(p, 0.0) == 0);
    CHECK(draw_categorical(p, 0.2499) == 0);
    CHECK(draw_categorical(p, 0.25) == 2);  // not id 1: it has probability 0
    CHECK(draw_categorical(p, 0.7499) == 2);
    CHECK(draw_categorical(p, 0.75) == 3);
    CHECK(draw_categorical(p, 0.9999) == 3);
    // A sum a little under 1 and a draw above it: the last id of non-zero probability.
    CHECK(draw_categorical({0.5, 0.4999, 0.0}, 0.99995) == 1);
  }

  TEST_CASE("sample_token at temperature 0 is the argmax with ties to the lower id") {
    Generator gen{7, 0};
    const std::vector<float> logits{0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
    for (int64_t k : {0, 1, 3, 5}) {
      CAPTURE(k);
      CHECK(sample_token(logits.data(), 5, {0.0, k}, gen) == 1);
    }
    CHECK(gen.offset == 4);  // one counter per token, greedy included
  }

  TEST_CASE("sample_token with top-k 1 equals greedy at any temperature") {
    Generator data{11, 0}, gen{12, 0};
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<double> values = randn({37}, DType::f64, Device::cpu, 0, 3, data).to_vector();
      std::vector<float> logits(values.begin(), values.end());
      for (double t : {0.01, 0.8, 1.0, 10.0, 1000.0}) {
        CAPTURE(trial);
        CAPTURE(t);
        CHECK(sample_token(logits.data(), 37, {t, 1}, gen) == plain_argmax(logits));
      }
    }
  }

  TEST_CASE("sample_token with top-k 2 only ever draws the two largest logits") {
    Generator gen{5, 0};
    // Nearly flat logits, so without the filter every id would appear.
    const std::vector<float> logits{0.1f, 0.3f, 0.0f, 0.25f, 0.2f, 0.29f};
    std::vector<int> count(6, 0);
    for (int64_t id : draw(logits, {5.0, 2}, gen, 4000)) ++count[size_t(id)];
    CHECK(count[1] + count[5] == 4000);
    CHECK(count[1] > 1000);
    CHECK(count[5] > 1000);
    // Ties at the cut keep the lower ids: of three equal largest logits, ids 1 and 2.
    const std::vector<float> tied{1.0f, 3.0f, 3.0f, 3.0f, 0.0f};
    std::vector<int> tied_count(5, 0);
    for (int64_t id : draw(tied, {1.0, 2}, gen, 2000)) ++tied_count[size_t(id)];
    CHECK(tied_count[1] + tied_count[2] == 2000);
    CHECK(tied_count[1] > 500);
    CHECK(tied_count[2] > 500);
  }

  TEST_CASE("sample_token frequencies match softmax of logits over temperature") {
    const std::vector<float> logits{1.0f, -0.5f, 2.0f, 0.3f, -2.0f, 1.5f, -1.0f};
    struct Case {
      double t;
      int64_t k;
      std::vector<int64_t> kept;  // the top-k ids, by hand
    };
    const std::vector<Case> cases{{1.0, 0, {0, 1, 2, 3, 4, 5, 6}}, {0.7, 0, {0, 1, 2, 3, 4, 5, 6}},
                                  {1.5, 3, {0, 2, 5}}, {3.0, 5, {0, 1, 2, 3, 5}}};
    const int n = 20000;
    for (const Case& c : cases) {
      CAPTURE(c.t);
      CAPTURE(c.k);
      Generator gen{uint64_t(100 + c.k), 0};
      std::vector<int> count(logits.size(), 0);
      for (int64_t id : draw(logits, {c.t, c.k}, gen, n)) ++count[size_t(id)];
      const std::vector<double> p = plain_softmax(logits, c.t, c.kept);
      for (size_t i = 0; i < logits.size(); ++i) {
        CAPTURE(i);
        // Each count is Binomial(n, p_i): allow five standard deviations (plus one draw).
        const double sigma = std::sqrt(n * p[i] * (1 - p[i]));
        CHECK(std::abs(count[i] - n * p[i]) <= 5 * sigma + 1);
        if (p[i] == 0) CHECK(count[i] == 0);
      }
    }
  }

  TEST_CASE("sampling_probabilities never overflows at a tiny temperature and ignores -inf") {
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> logits{1000.0f, 999.0f, -inf, 998.0f};
    std::vector<double> p = train::sampling_probabilities(logits.data(), 4, {1e-3, 0});
    CHECK(p[0] == 1.0);
    CHECK(p[1] == 0.0);
    CHECK(p[2] == 0.0);
    p = train::sampling_probabilities(logits.data(), 4, {1.0, 0});
    const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
    CHECK(p[0] == doctest::Approx(1 / z).epsilon(1e-12));
    CHECK(p[1] == doctest::Approx(std::exp(-1.0) / z).epsilon(1e-12));
    CHECK(p[2] == 0.0);
    CHECK(p[3] == doctest::Approx(std::exp(-2.0) / z).epsilon(1e-12));
    Generator gen{3, 0};
    for (int64_t id : draw(logits, {50.0, 0}, gen, 500)) CHECK(id != 2);
  }

  TEST_CASE("sample_token gives the same sequence for the same seed") {
    const std::vector<float> logits{0.2f, 0.1f, 0.4f, 0.3f, 0.0f, 0.35f};
    Generator a{42, 0}, b{42, 0}, c{43, 0};
    const std::vector<int64_t> first = draw(logits, {1.0, 0}, a, 200);
    CHECK(first == draw(logits, {1.0, 0}, b, 200));
    CHECK(first != draw(logits, {1.0, 0}, c, 200));
    CHECK(a.offset == 200);
  }

  TEST_CASE("sample_token refuses bad options and logits with one clear error") {
    const std::vector<float> logits{0.0f, 1.0f, 2.0f};
    Generator gen{1, 0};
    auto run = [&](SamplingOptions o, std::vector<float> x = {0.0f, 1.0f, 2.0f}) {
      return error_of([&] { sample_token(x.data(), int64_t(x.size()), o, gen); });
    };
    CHECK(has(run({-0.5, 0}), "temperature must be a finite number >= 0"));
    CHECK(has(run({std::nan(""), 0}), "temperature"));
    CHECK(has(run({1.0, -1}), "top-k must be in [0, 3]"));
    CHECK(has(run({1.0, 4}), "top-k must be in [0, 3]"));
    CHECK(has(run({0.0, 4}), "top-k must be in [0, 3]"));
    CHECK(has(run({1.0, 0}, {0.0f, std::nanf(""), 1.0f}), "the logit of id 1"));
    CHECK(has(run({1.0, 0}, {0.0f, std::numeric_limits<float>::infinity()}), "the logit of id 1"));
    const float ninf = -std::numeric_limits<float>::infinity();
    CHECK(has(run({1.0, 0}, {ninf, ninf}), "every logit is -inf"));
    CHECK(run({1.0, 3}) == "(no error)");
    CHECK(run({0.0, 0}) == "(no error)");
  }

  TEST_CASE("generate_tokens decodes greedily as one full-sequence forward predicts") {
    for (const models::ModelConfig& config : byte_configs_of_every_family()) {
      CAPTURE(models::model_type_name(config.model_type));
      Generator init{9, 0};
      models::CausalLM model(config, init);
      model.eval();
      const std::vector<int64_t> prompt{'h', 'e', 'l', 'l', 'o'};
      Generator gen{1, 0};
      const std::vector<int64_t> out = train::generate_tokens(model, prompt, 12, 256, {0.0, 0}, gen);
      REQUIRE(out.size() == 12);
      CHECK(gen.offset == 12);
      // A causal model's logits at position t depend on tokens 0..t only, so the whole
      // generated sequence, run once, must predict each generated token from its prefix.
      std::vector<int64_t> sequence = prompt;
      sequence.insert(sequence.end(), out.begin(), out.end());
      Tensor ids = empty({1, int64_t(sequence.size())}, DType::i64);
      std::copy(sequence.begin(), sequence.end(), ids.data<int64_t>());
      Tensor logits;
      {
        NoGrad no_grad;
        logits = clone_contiguous(model.forward(ids));
      }
      const float* p = logits.data<float>();
      for (size_t n = 0; n < out.size(); ++n) {
        CAPTURE(n);
        const size_t pos = prompt.size() + n - 1;
        CHECK(out[n] == plain_argmax(std::vector<float>(p + pos * 256, p + (pos + 1) * 256)));
      }
      // A sampled run is reproducible from its seed, and the callback sees every token.
      Generator s1{5, 0}, s2{5, 0};
      std::vector<int64_t> seen;
      const std::vector<int64_t> a =
          train::generate_tokens(model, prompt, 10, 3, {1.0, 20}, s1, [&](int64_t t) { seen.push_back(t); });
      CHECK(a == train::generate_tokens(model, prompt, 10, 3, {1.0, 20}, s2));
      CHECK(seen == a);
    }
  }

  TEST_CASE("generate_tokens with a short context starts from the last prompt tokens") {
    Generator init{4, 0};
    models::CausalLM model(tiny_byte_config(), init);
    model.eval();
    const std::vector<int64_t> prompt{'a', 'b', 'c', 'd', 'e', 'f'};
    Generator gen{1, 0};
    const std::vector<int64_t> out = train::generate_tokens(model, prompt, 1, 2, {0.0, 0}, gen);
    Tensor ids = empty({1, 2}, DType::i64);
    ids.data<int64_t>()[0] = 'e';
    ids.data<int64_t>()[1] = 'f';
    Tensor logits;
    {
      NoGrad no_grad;
      logits = clone_contiguous(model.forward(ids));
    }
    const float* p = logits.data<float>() + 256;
    CHECK(out.at(0) == plain_argmax(std::vector<float>(p, p + 256)));
  }

  TEST_CASE("hqlt generate refuses bad invocations with one clear error") {
    hqlt::testing::TempDir tmp("generate_bad");
    Generator init{2, 0};
    models::ModelConfig ids_config = tiny_byte_config();
    ids_config.vocab_size = 50;
    models::save_pretrained(models::CausalLM(ids_config, init), tmp.file("run/checkpoint"));
    const std::string run = tmp.file("run"), ckpt = tmp.file("run/checkpoint");
    auto run_cli = [](cli::Args args) { return error_of([&] { cli::generate(args); }); };
    CHECK(has(run_cli({}), "give exactly one of --run DIR and --model DIR"));
    CHECK(has(run_cli({"--run", run, "--model", ckpt}), "give exactly one of --run DIR and --model DIR"));
    CHECK(has(run_cli({"--model", tmp.file("nowhere")}), "--model '" + tmp.file("nowhere") + "' is not a folder"));
    CHECK(has(run_cli({"--run", tmp.file("nowhere")}), "is not a folder"));
    CHECK(has(run_cli({"--run", ckpt}), "has no checkpoint folder"));
    CHECK(has(run_cli({"--model", run}), "config.json"));
    CHECK(has(run_cli({"--run", run, "--prompt", "hi"}), "--prompt TEXT needs a byte-level model"));
    CHECK(has(run_cli({"--run", run, "--prompt-ids", "1,50"}), "token 1 is 50, outside the vocabulary [0, 50)"));
    CHECK(has(run_cli({"--run", run, "--prompt-ids", "1,-2"}), "expects a comma-separated list of integers >= 0"));
    CHECK(has(run_cli({"--run", run, "--top-k", "51"}), "--top-k must be in [0, 50]"));
    CHECK(has(run_cli({"--run", run, "--temperature", "-1"}), "--temperature expects a number >= 0"));
    CHECK(has(run_cli({"--run", run, "--tokens", "0"}), "--tokens expects a positive integer"));
    CHECK(has(run_cli({"--run", run, "--frobnicate"}), "unknown option '--frobnicate'"));
    io::write_json_file(tmp.file("run/train_options.json"), io::Json::parse(R"({"seq_len": 0})"));
    CHECK(has(run_cli({"--run", run}), "seq_len must be a positive integer"));
  }
}
