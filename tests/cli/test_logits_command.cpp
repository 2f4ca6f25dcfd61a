// hqlt logits end to end: for a tiny model with the shape of every shipped config, the
// command reads the checkpoint and the token ids (i32 and i64), and the file it writes holds
// exactly model.forward's logits; every bad invocation or input is one clear error.
#include <doctest/doctest.h>

#include <cstring>

#include "cli/commands.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "io/safetensors.h"
#include "models/causal_lm.h"
#include "models/checkpoint.h"
#include "models/model_fixtures.h"

using namespace hqlt;
using namespace hqlt::cli;
using hqlt::testing::TempDir;

namespace {

Tensor read_logits(const std::string& path) {
  io::SafetensorsFile file = io::load_safetensors(path);
  REQUIRE(file.tensors.size() == 1);
  CHECK(file.tensors[0].first == "logits");
  return file.tensors[0].second;
}

void write_ids(const std::string& path, const Tensor& ids, const std::string& name = "input_ids") {
  io::save_safetensors(path, std::vector<nn::NamedTensor>{{name, ids}});
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("hqlt logits matches model.forward for every shipped config's shape") {
    TempDir tmp("logits");
    uint64_t seed = 1;
    for (const std::string& name : hqlt::testing::shipped_config_names()) {
      CAPTURE(name);
      Generator gen{seed++, 0};
      models::CausalLM model(hqlt::testing::tiny_config(name), gen);
      const std::string dir = tmp.file(name);
      models::save_pretrained(model, dir);
      const DType id_type = seed % 2 ? DType::i32 : DType::i64;
      Tensor ids = randint(0, 50, {2, 21}, id_type, gen);
      write_ids(tmp.file("ids.safetensors"), ids);
      REQUIRE(logits({"--model", dir, "--input", tmp.file("ids.safetensors"), "--out", tmp.file("out.safetensors"),
                      "--threads", "2", "--device", "cpu"}) == 0);
      Tensor got = read_logits(tmp.file("out.safetensors"));
      CHECK(got.dtype() == DType::f32);
      CHECK(got.shape() == Shape{2, 21, 50});
      Tensor want;
      {
        NoGrad no_grad;
        model.eval();
        want = clone_contiguous(model.forward(ids));
      }
      REQUIRE(want.shape() == got.shape());
      CHECK(std::memcmp(want.raw_data(), got.raw_data(), size_t(want.numel()) * 4) == 0);
    }
  }

  TEST_CASE("hqlt logits refuses bad invocations and inputs with one clear error") {
    TempDir tmp("logits_bad");
    Generator gen{3, 0};
    models::CausalLM model(hqlt::testing::tiny_config("transformer_340M"), gen);
    const std::string dir = tmp.file("model");
    models::save_pretrained(model, dir);
    const std::string ids = tmp.file("ids.safetensors"), out = tmp.file("out.safetensors");
    write_ids(ids, randint(0, 50, {1, 5}, DType::i64, gen));
    auto run = [&](std::vector<std::string> extra, const std::string& input) {
      Args args{"--model", dir, "--input", input, "--out", out};
      args.insert(args.end(), extra.begin(), extra.end());
      return logits(args);
    };
    auto error_of = [&](const Args& args) -> std::string {
      try {
        logits(args);
      } catch (const Error& e) {
        return e.what();
      }
      return "no error";
    };

    CHECK(logits({"--help"}) == 0);
    CHECK(has(error_of({"--input", ids, "--out", out}), "missing --model"));
    CHECK(has(error_of({"--model", dir, "--out", out}), "missing --input"));
    CHECK(has(error_of({"--model", dir, "--input", ids}), "missing --out"));
    CHECK(has(error_of({"--model", dir, "--input", ids, "--out"}), "option --out needs a value"));
    CHECK(has(error_of({"--model", dir, "--bogus"}), "unknown option '--bogus'"));
    CHECK(has(error_of({"--model", dir, "--input", ids, "--out", out, "--device", "tpu"}), "cpu or cuda, got 'tpu'"));
    CHECK(has(error_of({"--model", dir, "--input", ids, "--out", out, "--threads", "0"}), "--threads"));
    CHECK(has(error_of({"--model", tmp.file("nope"), "--input", ids, "--out", out}), "is not a folder"));
    CHECK(has(error_of({"--model", dir, "--input", tmp.file("nope.safetensors"), "--out", out}),
              "nope.safetensors' does not exist"));
#ifndef HQLT_HAS_CUDA
    CHECK(has(error_of({"--model", dir, "--input", ids, "--out", out, "--device", "cuda"}), "built without CUDA"));
#endif

    const std::string bad = tmp.file("bad.safetensors");
    write_ids(bad, randint(0, 50, {1, 5}, DType::i64, gen), "tokens");
    CHECK_THROWS_WITH_AS(run({}, bad), doctest::Contains("has no tensor 'input_ids' (it holds 'tokens')"), Error);
    write_ids(bad, zeros({1, 5}));
    CHECK_THROWS_WITH_AS(run({}, bad), doctest::Contains("'input_ids' must be I32 or I64, got f32"), Error);
    write_ids(bad, zeros({5}, DType::i32));
    CHECK_THROWS_WITH_AS(run({}, bad), doctest::Contains("must have shape [B, T], got [5]"), Error);
    write_ids(bad, zeros({1, 0}, DType::i32));
    CHECK_THROWS_WITH_AS(run({}, bad), doctest::Contains("is empty"), Error);
    write_ids(bad, from_vector({1, 2, 50, 3}, {2, 2}, DType::i64));
    CHECK_THROWS_WITH_AS(run({}, bad), doctest::Contains("input_ids[1, 0] = 50 is outside the vocabulary [0, 50)"),
                         Error);
    write_ids(bad, from_vector({1, -1}, {1, 2}, DType::i32));
    CHECK_THROWS_WITH_AS(run({}, bad), doctest::Contains("input_ids[0, 1] = -1"), Error);
    std::filesystem::resize_file(bad, 4);
    CHECK_THROWS_WITH_AS(run({}, bad), doctest::Contains("bad.safetensors"), Error);
    CHECK_FALSE(std::filesystem::exists(out));  // nothing written by a failed run
    CHECK(run({}, ids) == 0);
    CHECK(std::filesystem::exists(out));
  }
}
