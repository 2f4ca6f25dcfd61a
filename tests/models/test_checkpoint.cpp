// Checkpoints: save -> load gives the same parameters and the same logits bit for bit (every
// family, f32 and f64, tied embeddings); a BF16 checkpoint written by hand loads and gives
// logits close to the f32 model's; the training state round-trips so that a resumed run
// continues with the same bits; and every malformed checkpoint is one clear error naming
// the file.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "engine/autograd.h"
#include "engine/rng.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/causal_lm.h"
#include "models/checkpoint.h"
#include "models/model_fixtures.h"
#include "nn/adamw.h"
#include "ops/loss/cross_entropy.h"

using namespace hqlt;
using namespace hqlt::models;
using hqlt::testing::TempDir;
using hqlt::testing::tiny_config;

namespace {

const char* const kFamilies[] = {"transformer_340M", "delta_net_340M",
                                 "sync_hqlt_ch64_dynamic-vector-mixing_noconv_340M",
                                 "delayed-chunk_hqlt_ch64_dynamic-vector-mixing_noconv_1B"};

Tensor token_ids(int64_t B, int64_t T, int64_t vocab, uint64_t seed) {
  Generator gen{seed, 0};
  return randint(0, vocab, {B, T}, DType::i64, gen);
}

Tensor logits_of(const CausalLM& model, const Tensor& ids) {
  NoGrad no_grad;
  return model.forward(ids);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor x = clone_contiguous(a), y = clone_contiguous(b);
  return std::memcmp(x.raw_data(), y.raw_data(), size_t(x.numel()) * dtype_size(x.dtype())) == 0;
}

void check_same_parameters(const CausalLM& a, const CausalLM& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    CAPTURE(pa[i].first);
    CHECK(pa[i].first == pb[i].first);
    CHECK(same_bits(pa[i].second, pb[i].second));
  }
}

std::string load_error(const std::string& dir) {
  try {
    load_pretrained(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// f32 -> bf16 with round-to-nearest-even, as torch's .to(torch.bfloat16) does.
uint16_t to_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  bits += 0x7FFF + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

// A BF16 model.safetensors written byte by byte (our writer only writes f32/f64/i32/i64).
void write_bf16_safetensors(const std::string& path, const std::vector<nn::NamedTensor>& tensors) {
  io::Json header = io::Json::object();
  header.set("__metadata__", io::Json(io::Json::Object{{"format", io::Json("pt")}}));
  std::vector<unsigned char> data;
  for (const auto& [name, t] : tensors) {
    io::Json shape = io::Json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    const uint64_t begin = data.size();
    for (double v : t.to_vector()) {
      uint16_t b = to_bf16(float(v));
      data.push_back(uint8_t(b & 0xFF));
      data.push_back(uint8_t(b >> 8));
    }
    io::Json spec = io::Json::object();
    spec.set("dtype", "BF16");
    spec.set("shape", shape);
    spec.set("data_offsets", io::Json(io::Json::Array{io::Json(begin), io::Json(uint64_t(data.size()))}));
    header.set(name, spec);
  }
  std::string text = header.dump();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (int i = 0; i < 8; ++i) out.put(char((uint64_t(text.size()) >> (8 * i)) & 0xFF));
  out << text;
  out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
}

// The checkpoint's tensors, edited and written back (to build the malformed cases).
nn::StateDict weights_of(const std::string& dir) {
  return io::load_safetensors(dir + "/model.safetensors").state_dict();
}
void write_weights(const std::string& dir, const nn::StateDict& state) {
  io::save_safetensors(dir + "/model.safetensors", state, {{"format", "pt"}});
}

// One AdamW step on the next-token loss of a fixed batch.
void train_step(CausalLM& model, nn::AdamW& opt, const Tensor& ids) {
  Tensor inputs = ids.slice(1, 0, ids.size(1) - 1).contiguous();
  Tensor targets = ids.slice(1, 1, ids.size(1)).contiguous();
  Tensor loss = cross_entropy(model.forward(inputs), targets);
  loss.backward();
  opt.step();
  opt.zero_grad();
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("checkpoint save -> load gives the same parameters and logits - bit for bit") {
    TempDir tmp("roundtrip");
    for (const std::string name : kFamilies) {
      CAPTURE(name);
      Generator gen{11, 0};
      CausalLM model(tiny_config(name), gen);
      const std::string dir = tmp.file(name) + "/nested";  // created with its parents
      save_pretrained(model, dir);
      CHECK(std::filesystem::exists(dir + "/config.json"));
      CHECK(std::filesystem::exists(dir + "/model.safetensors"));
      io::SafetensorsHeader header = io::read_safetensors_header(dir + "/model.safetensors");
      CHECK(header.metadata == io::Metadata{{"format", "pt"}});
      CHECK(header.entries.size() == model.named_parameters().size());

      std::string warning = "unset";
      std::shared_ptr<CausalLM> loaded = load_pretrained(dir, DType::f32, &warning);
      CHECK(warning.empty());
      CHECK_FALSE(loaded->is_training());
      CHECK(config_to_json(loaded->config()) == config_to_json(model.config()));
      check_same_parameters(model, *loaded);
      Tensor ids = token_ids(2, 13, 50, 3);
      CHECK(same_bits(logits_of(model, ids), logits_of(*loaded, ids)));

      // As f64: the same values, widened.
      std::shared_ptr<CausalLM> wide = load_pretrained(dir, DType::f64);
      for (const auto& [pname, p] : wide->named_parameters()) CHECK(p.dtype() == DType::f64);
      CHECK(wide->parameter("model.norm.weight").to_vector() == model.parameter("model.norm.weight").to_vector());
    }
  }

  TEST_CASE("checkpoint: f64 models and tied embeddings") {
    TempDir tmp("tied");
    ModelConfig config = tiny_config("delta_net_noconv_340M");
    config.tie_word_embeddings = true;
    Generator gen{5, 0};
    CausalLM model(config, gen);
    model.to(DType::f64);
    save_pretrained(model, tmp.file("m"));
    nn::StateDict stored = weights_of(tmp.file("m"));
    CHECK_FALSE(stored.count("lm_head.weight"));  // the head is the embedding table
    CHECK(stored.at("model.norm.weight").dtype() == DType::f64);
    CHECK(io::read_json_file(tmp.file("m") + "/config.json").at("torch_dtype").as_string() == "float64");
    std::shared_ptr<CausalLM> loaded = load_pretrained(tmp.file("m"), DType::f64);
    check_same_parameters(model, *loaded);
    Tensor ids = token_ids(1, 9, 50, 4);
    CHECK(same_bits(logits_of(model, ids), logits_of(*loaded, ids)));

    // A tied checkpoint that also carries lm_head.weight (a copy) loads; the copy is unused.
    stored.emplace("lm_head.weight", stored.at("model.embeddings.weight"));
    write_weights(tmp.file("m"), stored);
    CHECK(same_bits(logits_of(*load_pretrained(tmp.file("m"), DType::f64), ids), logits_of(model, ids)));
  }

  TEST_CASE("checkpoint: a BF16 checkpoint loads and gives logits close to the f32 model's") {
    TempDir tmp("bf16");
    Generator gen{9, 0};
    CausalLM model(tiny_config("sync_hqlt_ch64_dynamic-vector-mixing_noconv_340M"), gen);
    save_pretrained(model, tmp.file("m"));
    write_bf16_safetensors(tmp.file("m") + "/model.safetensors", model.named_parameters());
    CHECK(io::read_safetensors_header(tmp.file("m") + "/model.safetensors").entries.at(0).dtype == "BF16");

    std::shared_ptr<CausalLM> loaded = load_pretrained(tmp.file("m"));
    // Each value is the f32 value rounded to bf16 (8 mantissa bits), widened exactly.
    for (const auto& [name, p] : model.named_parameters()) {
      const auto name_value = name;  // a copy: clang 14 cannot capture a structured binding
      INFO("name = " << name_value);
      std::vector<double> want = p.to_vector(), got = loaded->parameter(name).to_vector();
      REQUIRE(want.size() == got.size());
      for (size_t i = 0; i < want.size(); ++i) {
        const float rounded = std::bit_cast<float>(uint32_t(to_bf16(float(want[i]))) << 16);
        if (float(got[i]) != rounded) {
          CHECK(float(got[i]) == rounded);
          break;
        }
      }
    }
    Tensor ids = token_ids(2, 11, 50, 5);
    std::vector<double> a = logits_of(model, ids).to_vector(), b = logits_of(*loaded, ids).to_vector();
    double worst = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      worst = std::max(worst, std::abs(a[i] - b[i]));
      scale = std::max(scale, std::abs(a[i]));
    }
    CHECK(worst > 0);                  // it really was rounded
    CHECK(worst < 0.02 * scale + 1e-3);  // bf16-level differences only
  }

  TEST_CASE("checkpoint: malformed checkpoints give one clear error naming the file") {
    TempDir tmp("malformed");
    Generator gen{2, 0};
    CausalLM model(tiny_config("delta_net_340M"), gen);
    const std::string dir = tmp.file("m");
    const std::string weights = dir + "/model.safetensors";
    save_pretrained(model, dir);
    const nn::StateDict good = weights_of(dir);
    auto fresh = [&] { write_weights(dir, good); };

    SUBCASE("truncated file") {
      const auto size = std::filesystem::file_size(weights);
      std::filesystem::resize_file(weights, size - 10);
      std::string e = load_error(dir);
      CHECK(has(e, weights));
      CHECK(has(e, "truncated"));
      std::filesystem::resize_file(weights, 5);
      CHECK(has(load_error(dir), "truncated file: 5 bytes"));
    }
    SUBCASE("header length lies") {
      std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
      const unsigned char huge[8] = {0, 0, 0, 0, 1, 0, 0, 0};
      f.write(reinterpret_cast<const char*>(huge), 8);
      f.close();
      std::string e = load_error(dir);
      CHECK(has(e, weights));
      CHECK(has(e, "header length"));
    }
    SUBCASE("missing tensor") {
      nn::StateDict s = good;
      s.erase("model.layers.1.attn.b_proj.weight");
      write_weights(dir, s);
      std::string e = load_error(dir);
      CHECK(has(e, weights));
      CHECK(has(e, "missing: 'model.layers.1.attn.b_proj.weight'"));
    }
    SUBCASE("unexpected tensor") {
      nn::StateDict s = good;
      s.emplace("model.layers.0.attn.memory_mixer.weight", zeros({4, 32}));
      write_weights(dir, s);
      std::string e = load_error(dir);
      CHECK(has(e, weights));
      CHECK(has(e, "unexpected tensor(s) that config.json does not imply: 'model.layers.0.attn.memory_mixer.weight'"));
    }
    SUBCASE("wrong shape") {
      nn::StateDict s = good;
      s["model.norm.weight"] = zeros({31});
      write_weights(dir, s);
      std::string e = load_error(dir);
      CHECK(has(e, weights));
      CHECK(has(e, "tensor 'model.norm.weight' has shape [31], but config.json implies [32]"));
    }
    SUBCASE("integer dtype") {
      nn::StateDict s = good;
      s["model.norm.weight"] = zeros({32}, DType::i64);
      write_weights(dir, s);
      std::string e = load_error(dir);
      CHECK(has(e, weights));
      CHECK(has(e, "tensor 'model.norm.weight' has dtype I64; a parameter must be a float type"));
    }
    SUBCASE("missing files and bad config") {
      CHECK(has(load_error(tmp.file("absent")), "is not a folder"));
      std::filesystem::remove(weights);
      CHECK(has(load_error(dir), "model.safetensors' does not exist"));
      fresh();
      io::write_json_file(dir + "/config.json", io::Json::parse(R"({"model_type": "delta_net", "num_heads": "8"})"));
      std::string e = load_error(dir);
      CHECK(has(e, dir + "/config.json"));
      CHECK(has(e, "'num_heads' must be an integer"));
      std::filesystem::remove(dir + "/config.json");
      CHECK(has(load_error(dir), "config.json' does not exist"));
    }
    SUBCASE("NaN or infinite weights") {
      nn::StateDict s = good;
      s["model.norm.weight"] = from_vector(std::vector<double>(32, 1.0), {32}, DType::f32);
      float* w = s["model.norm.weight"].data<float>();
      w[3] = std::nanf("");
      w[7] = -std::numeric_limits<float>::infinity();
      write_weights(dir, s);
      std::string e = load_error(dir);
      CHECK(has(e, weights));
      CHECK(has(e, "tensor 'model.norm.weight' holds 2 NaN or infinite values (of 32); the checkpoint is damaged"));
    }
    SUBCASE("each error is a hqlt::Error") {
      std::filesystem::resize_file(weights, 3);
      CHECK_THROWS_WITH_AS(load_pretrained(dir), doctest::Contains("model.safetensors"), Error);
    }
  }

  TEST_CASE("checkpoint: a resumed run continues bit for bit") {
    TempDir tmp("resume");
    const ModelConfig config = tiny_config("sync_hqlt_ch64_dynamic-scalar-mixing_noconv_340M");
    nn::AdamWOptions options;
    options.lr = 3e-3;
    options.weight_decay = 0.1;
    Tensor ids = token_ids(2, 10, 50, 8);

    // Uninterrupted: 4 steps.
    Generator gen{21, 0};
    CausalLM model(config, gen);
    nn::AdamW opt(nn::decay_groups(model, 0.1), options);
    for (int s = 0; s < 2; ++s) train_step(model, opt, ids);
    opt.set_lr(1.5e-3);  // as a schedule would
    TrainingState state;
    state.step = 2;
    state.tokens_seen = 36;
    state.rng = Generator{1234567890123456789ull, 987654321987ull};
    state.extra = {{"data.position", "17"}, {"note", "a b"}};
    state.extra_tensors.emplace("loss_history", from_vector({3.9, 3.7}, {2}, DType::f64));
    save_pretrained(model, tmp.file("ckpt"));
    save_training_state(tmp.file("ckpt"), opt, state);
    for (int s = 0; s < 2; ++s) train_step(model, opt, ids);

    // Resumed in a fresh model and optimiser (built from a different seed).
    std::shared_ptr<CausalLM> resumed = load_pretrained(tmp.file("ckpt"));
    resumed->train();
    nn::AdamW opt2(nn::decay_groups(*resumed, 0.1), options);
    TrainingState back = load_training_state(tmp.file("ckpt"), opt2);
    CHECK(back.step == 2);
    CHECK(back.tokens_seen == 36);
    CHECK(back.rng.seed == state.rng.seed);
    CHECK(back.rng.offset == state.rng.offset);
    CHECK(back.extra == state.extra);
    REQUIRE(back.extra_tensors.count("loss_history"));
    CHECK(same_bits(back.extra_tensors.at("loss_history"), state.extra_tensors.at("loss_history")));
    CHECK(opt2.lr() == 1.5e-3);
    const std::string some = "model.layers.0.attn.q_proj.weight";
    CHECK(opt2.state(some).step == 2);
    for (int s = 0; s < 2; ++s) train_step(*resumed, opt2, ids);
    check_same_parameters(model, *resumed);
    CHECK(opt2.state(some).step == opt.state(some).step);
    CHECK(same_bits(opt2.state(some).exp_avg_sq, opt.state(some).exp_avg_sq));

    // Errors name the file.
    const std::string path = tmp.file("ckpt") + "/training_state.safetensors";
    CHECK_THROWS_WITH_AS(load_training_state(tmp.file("nothing"), opt2), doctest::Contains("does not exist"), Error);
    io::save_safetensors(path, nn::StateDict{}, {{"format", "pt"}});
    CHECK_THROWS_WITH_AS(load_training_state(tmp.file("ckpt"), opt2),
                         doctest::Contains("not an hqlt training state"), Error);
    save_training_state(tmp.file("ckpt"), opt, state);
    Generator other_gen{1, 0};
    CausalLM other(tiny_config("transformer_340M"), other_gen);
    nn::AdamW opt3(other.named_parameters(), options);
    CHECK_THROWS_WITH_AS(load_training_state(tmp.file("ckpt"), opt3), doctest::Contains(path.c_str()), Error);
  }
}
