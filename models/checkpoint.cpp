#include "models/checkpoint.h"

#include <charconv>
#include <filesystem>
#include <set>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/config_json.h"

namespace hqlt::models {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigFile = "config.json";
constexpr const char* kWeightsFile = "model.safetensors";
constexpr const char* kTrainingStateFile = "training_state.safetensors";
constexpr const char* kTrainingStateFormat = "hqlt-training-state";
constexpr const char* kExtraTensorPrefix = "extra/";

std::string path_in(const std::string& dir, const char* file) { return (fs::path(dir) / file).string(); }

void make_folder(const std::string& dir, const char* who) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  HQLT_CHECK(!ec && fs::is_directory(dir), who, ": cannot create the folder '", dir, "'",
             ec ? ": " + ec.message() : std::string(" (a file has that name)"));
}

void require_file(const std::string& path, const char* who, const char* what) {
  HQLT_CHECK(fs::is_regular_file(path), who, ": '", path, "' does not exist (", what, ")");
}

// "'a', 'b', 'c' and 4 more": long name lists stay one readable line.
std::string name_list(const std::vector<std::string>& names, size_t shown = 6) {
  std::ostringstream o;
  for (size_t i = 0; i < names.size() && i < shown; ++i) o << (i ? ", " : "") << "'" << names[i] << "'";
  if (names.size() > shown) o << " and " << names.size() - shown << " more";
  return o.str();
}

bool is_float_storage(const std::string& stored) {
  return stored == "F32" || stored == "BF16" || stored == "F16" || stored == "F64";
}

// Doubles and 64-bit integers travel as text in __metadata__; std::to_chars gives the
// shortest text that reads back to the same bits.
std::string double_text(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

template <typename T>
T parse_text(const std::string& path, const std::string& key, const std::string& text) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  HQLT_CHECK(ec == std::errc() && end == text.data() + text.size() && !text.empty(), "training state '", path,
             "': metadata '", key, "' must be a number, got '", text, "'");
  return v;
}

// A checkpoint whose numbers are NaN or infinite cannot have come from a healthy run, and
// would only turn every later loss into NaN: it is refused where it is read, naming the
// tensor.
void require_finite(const Tensor& t, const std::string& path, const std::string& name) {
  const int64_t bad = count_non_finite(t);
  HQLT_CHECK(bad == 0, "'", path, "': tensor '", name, "' holds ", bad, " NaN or infinite value", bad == 1 ? "" : "s",
             " (of ", t.numel(), "); the checkpoint is damaged");
}

}  // namespace

// ---- the reference layout -----------------------------------------------------------------

std::vector<std::pair<std::string, Shape>> reference_parameter_shapes(const ModelConfig& c) {
  c.validate();
  const int64_t D = c.hidden_size, V = c.vocab_size, I = c.mlp_hidden(), H = c.num_heads;
  std::vector<std::pair<std::string, Shape>> out;
  out.emplace_back("model.embeddings.weight", Shape{V, D});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    const std::string attn = layer + "attn.";
    auto add = [&](const std::string& name, Shape shape) { out.emplace_back(attn + name, std::move(shape)); };
    out.emplace_back(layer + "attn_norm.weight", Shape{D});
    if (c.model_type == ModelType::transformer || c.is_attention_layer(i)) {
      const ModelConfig a = c.model_type == ModelType::transformer ? c : c.attention_layer_config();
      const int64_t d = D / a.num_heads, kv = a.kv_heads() * d;
      add("q_proj.weight", {D, D});
      add("k_proj.weight", {kv, D});
      add("v_proj.weight", {kv, D});
      if (a.qkv_bias) {
        add("q_proj.bias", {D});
        add("k_proj.bias", {kv});
        add("v_proj.bias", {kv});
      }
      if (a.transformer_qk_norm) {
        add("q_norm.weight", {d});
        add("k_norm.weight", {d});
      }
      add("o_proj.weight", {D, D});
    } else {
      const int64_t key_dim = c.key_dim(), value_dim = c.value_dim();
      add("q_proj.weight", {key_dim, D});
      add("k_proj.weight", {key_dim, D});
      add("v_proj.weight", {value_dim, D});
      if (c.use_beta) add("b_proj.weight", {H, D});
      if (c.use_short_conv) {
        add("q_conv1d.weight", {key_dim, 1, c.conv_size});
        add("k_conv1d.weight", {key_dim, 1, c.conv_size});
        add("v_conv1d.weight", {value_dim, 1, c.conv_size});
      }
      if (c.model_type == ModelType::hybrid_qlt) {
        if (c.use_memory_gate)
          add("memory_gate_proj.weight", {value_dim * (c.use_memory_gate_separate ? 2 : 1), D});
        if (c.use_memory_dynamic_scaler) add("memory_mixer.weight", {2 * H, D});
        if (c.use_memory_scaler) {
          add("fw_scale", {1});
          add("kv_scale", {1});
        }
      }
      if (c.use_gate) add("g_proj.weight", {value_dim, D});
      add("o_norm.weight", {c.head_v_dim()});
      add("o_proj.weight", {D, value_dim});
    }
    out.emplace_back(layer + "mlp_norm.weight", Shape{D});
    out.emplace_back(layer + "mlp.gate_proj.weight", Shape{I, D});
    out.emplace_back(layer + "mlp.up_proj.weight", Shape{I, D});
    out.emplace_back(layer + "mlp.down_proj.weight", Shape{D, I});
  }
  out.emplace_back("model.norm.weight", Shape{D});
  if (!c.tie_word_embeddings) out.emplace_back("lm_head.weight", Shape{V, D});
  return out;
}

int64_t reference_num_parameters(const ModelConfig& config) {
  int64_t n = 0;
  for (const auto& [name, shape] : reference_parameter_shapes(config)) n += numel_of(shape);
  return n;
}

// ---- model --------------------------------------------------------------------------------

void save_pretrained(const CausalLM& model, const std::string& dir) {
  make_folder(dir, "save_pretrained");
  // Weights first: a folder whose config.json is fresh has fresh weights too.
  const std::vector<nn::NamedTensor> params = model.named_parameters();
  io::save_safetensors(path_in(dir, kWeightsFile), params, {{"format", "pt"}});
  io::Json config = config_to_json(model.config());
  const bool f64 = !params.empty() && params.front().second.dtype() == DType::f64;
  config.set("torch_dtype", f64 ? "float64" : "float32");
  io::write_json_file(path_in(dir, kConfigFile), config, 2);
}

std::shared_ptr<CausalLM> load_pretrained(const std::string& dir, DType dtype, std::string* config_warning) {
  HQLT_CHECK(dtype == DType::f32 || dtype == DType::f64, "load_pretrained: dtype must be f32 or f64, got ",
             dtype_name(dtype));
  HQLT_CHECK(fs::is_directory(dir), "load_pretrained: '", dir, "' is not a folder");
  const std::string config_path = path_in(dir, kConfigFile), weights_path = path_in(dir, kWeightsFile);
  require_file(config_path, "load_pretrained", "a checkpoint folder holds config.json and model.safetensors");
  require_file(weights_path, "load_pretrained", "a checkpoint folder holds config.json and model.safetensors");

  ConfigFromJson parsed = read_config_file(config_path);
  if (config_warning) *config_warning = parsed.warning;

  // Check the header against the model before reading any data.
  const io::SafetensorsHeader header = io::read_safetensors_header(weights_path);
  Generator init_gen{0, 0};  // the initial values are overwritten by the load
  auto model = std::make_shared<CausalLM>(parsed.config, init_gen);
  if (dtype != DType::f32) model->to(dtype);

  std::map<std::string, Tensor> wanted;
  for (const auto& [name, p] : model->named_parameters()) wanted.emplace(name, p);
  const bool tied_head_in_file = parsed.config.tie_word_embeddings && !wanted.count("lm_head.weight");
  std::vector<std::string> unexpected, missing;
  std::set<std::string> present;
  for (const io::SafetensorsEntry& e : header.entries) {
    auto it = wanted.find(e.name);
    if (it == wanted.end()) {
      // A tied checkpoint may carry the head as a copy of the embeddings; it is not used.
      if (tied_head_in_file && e.name == "lm_head.weight" &&
          e.shape == Shape{parsed.config.vocab_size, parsed.config.hidden_size})
        continue;
      unexpected.push_back(e.name);
      continue;
    }
    present.insert(e.name);
    HQLT_CHECK(e.shape == it->second.shape(), "load_pretrained: '", weights_path, "': tensor '", e.name,
               "' has shape ", shape_str(e.shape), ", but config.json implies ", shape_str(it->second.shape()));
    HQLT_CHECK(is_float_storage(e.dtype), "load_pretrained: '", weights_path, "': tensor '", e.name, "' has dtype ",
               e.dtype, "; a parameter must be a float type (F32, BF16, F16 or F64)");
  }
  for (const auto& [name, p] : wanted)
    if (!present.count(name)) missing.push_back(name);
  HQLT_CHECK(missing.empty(), "load_pretrained: '", weights_path, "': ", missing.size(),
             " tensor(s) that config.json implies are missing: ", name_list(missing));
  HQLT_CHECK(unexpected.empty(), "load_pretrained: '", weights_path, "': ", unexpected.size(),
             " unexpected tensor(s) that config.json does not imply: ", name_list(unexpected));

  // Read the data and convert it to the model's dtype (BF16/F16 arrive as f32 already).
  io::SafetensorsFile file = io::load_safetensors(weights_path);
  nn::StateDict state;
  NoGrad no_grad;
  for (auto& [name, t] : file.tensors) {
    auto it = wanted.find(name);
    if (it == wanted.end()) continue;  // the tied head copy
    require_finite(t, weights_path, name);
    if (t.dtype() != it->second.dtype()) {
      Tensor converted = empty(t.shape(), it->second.dtype());
      copy_into(converted, t);
      t = converted;
    }
    state.emplace(name, t);
  }
  try {
    model->load_state_dict(state, /*strict=*/true);
  } catch (const Error& e) {
    fail("load_pretrained: '", weights_path, "': ", e.what());
  }
  model->eval();
  return model;
}

// ---- training state -----------------------------------------------------------------------

void save_training_state(const std::string& dir, const nn::AdamW& optimizer, const TrainingState& state) {
  make_folder(dir, "save_training_state");
  std::vector<nn::NamedTensor> tensors;
  for (const auto& [name, t] : optimizer.state_dict()) tensors.emplace_back(name, t);
  for (const auto& [name, t] : state.extra_tensors) tensors.emplace_back(kExtraTensorPrefix + name, t);

  const nn::AdamWOptions& opt = optimizer.options();
  io::Metadata meta = {
      {"format", kTrainingStateFormat},
      {"version", "1"},
      {"step", std::to_string(state.step)},
      {"tokens_seen", std::to_string(state.tokens_seen)},
      {"rng.seed", std::to_string(state.rng.seed)},
      {"rng.offset", std::to_string(state.rng.offset)},
      {"optimizer", "adamw"},
      {"optimizer.lr", double_text(optimizer.lr())},
      {"optimizer.beta1", double_text(opt.beta1)},
      {"optimizer.beta2", double_text(opt.beta2)},
      {"optimizer.eps", double_text(opt.eps)},
  };
  for (const auto& [key, value] : state.extra) meta.emplace_back("extra." + key, value);
  io::save_safetensors(path_in(dir, kTrainingStateFile), tensors, meta);
}

TrainingState load_training_state(const std::string& dir, nn::AdamW& optimizer) {
  const std::string path = path_in(dir, kTrainingStateFile);
  require_file(path, "load_training_state", "saved by save_training_state");
  io::SafetensorsFile file = io::load_safetensors(path);

  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : file.metadata) meta[k] = v;
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    HQLT_CHECK(it != meta.end(), "training state '", path, "': metadata '", key, "' is missing");
    return it->second;
  };
  HQLT_CHECK(meta.count("format") && meta.at("format") == kTrainingStateFormat, "training state '", path,
             "': not an hqlt training state (metadata 'format' is not \"", kTrainingStateFormat, "\")");
  HQLT_CHECK(get("version") == "1", "training state '", path, "': unsupported version '", get("version"), "'");
  HQLT_CHECK(get("optimizer") == "adamw", "training state '", path, "': saved for optimiser '", get("optimizer"),
             "', expected adamw");

  TrainingState out;
  out.step = parse_text<int64_t>(path, "step", get("step"));
  out.tokens_seen = parse_text<int64_t>(path, "tokens_seen", get("tokens_seen"));
  out.rng.seed = parse_text<uint64_t>(path, "rng.seed", get("rng.seed"));
  out.rng.offset = parse_text<uint64_t>(path, "rng.offset", get("rng.offset"));
  const double lr = parse_text<double>(path, "optimizer.lr", get("optimizer.lr"));
  for (const auto& [k, v] : meta)
    if (k.rfind("extra.", 0) == 0) out.extra.emplace(k.substr(6), v);

  nn::StateDict optimizer_state;
  const std::string prefix = kExtraTensorPrefix;
  for (const auto& [name, t] : file.tensors) {
    require_finite(t, path, name);
    if (name.rfind(prefix, 0) == 0) out.extra_tensors.emplace(name.substr(prefix.size()), t);
    else optimizer_state.emplace(name, t);
  }
  try {
    optimizer.load_state_dict(optimizer_state);
    optimizer.set_lr(lr);
  } catch (const Error& e) {
    fail("training state '", path, "': ", e.what());
  }
  return out;
}

}  // namespace hqlt::models
