// hqlt logits: the model's logits for given token ids, written to a safetensors file — the
// way to compare this engine with the reference on the same checkpoint (docs/math/models.md §7).
//
//   input:  IDS.safetensors holding `input_ids`, i32 or i64, [B, T], values in [0, vocab)
//   output: OUT.safetensors holding `logits`, f32, [B, T, vocab], written atomically
//
// The model runs in eval mode under NoGrad. Every bad input (a missing option or file, no
// `input_ids`, a wrong dtype or rank, an id outside the vocabulary) is one hqlt::Error.
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/autograd.h"
#include "engine/parallel.h"
#include "io/safetensors.h"
#include "models/checkpoint.h"
#include "train/device_option.h"


namespace hqlt::cli {
namespace {

constexpr const char* kLogitsUsage =
    "usage: hqlt logits --model DIR --input IDS.safetensors --out OUT.safetensors\n"
    "                   [--device cpu|cuda] [--threads N]\n"
    "  DIR holds config.json and model.safetensors (Hugging Face layout);\n"
    "  IDS.safetensors holds 'input_ids' (i32 or i64, [B, T]);\n"
    "  OUT.safetensors receives 'logits' (f32, [B, T, vocab]).\n";

struct LogitsOptions {
  std::string model_dir, input_path, out_path;
  Device device = Device::cpu;
  int threads = 0;
};

// Reads `input_ids` and checks its dtype and shape (before the model is loaded).
Tensor read_input_ids(const std::string& path) {
  HQLT_CHECK(std::filesystem::is_regular_file(path), "logits: --input '", path, "' does not exist");
  io::SafetensorsFile file = io::load_safetensors(path);
  Tensor ids;
  std::string names;
  for (const auto& [name, t] : file.tensors) {
    if (name == "input_ids") ids = t;
    names += (names.empty() ? "'" : ", '") + name + "'";
  }
  HQLT_CHECK(ids.defined(), "logits: '", path, "' has no tensor 'input_ids' (it holds ",
             names.empty() ? std::string("no tensors") : names, ")");
  HQLT_CHECK(ids.dtype() == DType::i32 || ids.dtype() == DType::i64, "logits: '", path,
             "': 'input_ids' must be I32 or I64, got ", dtype_name(ids.dtype()));
  HQLT_CHECK(ids.dim() == 2, "logits: '", path, "': 'input_ids' must have shape [B, T], got ",
             shape_str(ids.shape()));
  HQLT_CHECK(ids.numel() > 0, "logits: '", path, "': 'input_ids' is empty, shape ", shape_str(ids.shape()));
  return ids;
}

// Every id must index the model's vocabulary; the first one that does not is named.
void check_ids_in_vocabulary(const std::string& path, const Tensor& ids, int64_t vocab_size) {
  dispatch_index(ids.dtype(), "logits", [&]<typename I>() {
    const I* p = ids.data<I>();  // freshly loaded, so contiguous
    const int64_t T = ids.size(1);
    for (int64_t i = 0; i < ids.numel(); ++i)
      HQLT_CHECK(p[i] >= 0 && int64_t(p[i]) < vocab_size, "logits: '", path, "': input_ids[", i / T, ", ", i % T,
                 "] = ", int64_t(p[i]), " is outside the vocabulary [0, ", vocab_size, ")");
  });
}

}  // namespace

int logits(const Args& args) {
  LogitsOptions opt;
  ArgReader r("logits", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kLogitsUsage, stdout);
      return 0;
    } else if (r.is("--model")) {
      opt.model_dir = r.value();
    } else if (r.is("--input")) {
      opt.input_path = r.value();
    } else if (r.is("--out")) {
      opt.out_path = r.value();
    } else if (r.is("--device")) {
      opt.device = train::parse_device(r.value(), "logits");
    } else if (r.is("--threads")) {
      opt.threads = int(r.positive_int());
    } else {
      r.unknown();
    }
  }
  HQLT_CHECK(!opt.model_dir.empty(), "logits: missing --model DIR (see hqlt logits --help)");
  HQLT_CHECK(!opt.input_path.empty(), "logits: missing --input IDS.safetensors (see hqlt logits --help)");
  HQLT_CHECK(!opt.out_path.empty(), "logits: missing --out OUT.safetensors (see hqlt logits --help)");
  train::require_device(opt.device, "logits");
  set_num_threads(opt.threads);

  Tensor ids = read_input_ids(opt.input_path);
  std::string warning;
  std::shared_ptr<models::CausalLM> model = models::load_pretrained(opt.model_dir, DType::f32, &warning);
  if (!warning.empty()) std::fprintf(stderr, "hqlt logits: warning: %s\n", warning.c_str());
  check_ids_in_vocabulary(opt.input_path, ids, model->config().vocab_size);

  Tensor out;
  {
    NoGrad no_grad;
    model->eval();
    if (opt.device == Device::cuda) {
      model->to(Device::cuda);
      ids = ids.to(Device::cuda);
    }
    out = model->forward(ids);
    if (out.device() != Device::cpu) out = out.to(Device::cpu);
    if (out.dtype() != DType::f32) out = out.to(DType::f32);
  }
  io::save_safetensors(opt.out_path, std::vector<nn::NamedTensor>{{"logits", out}}, {{"format", "pt"}});
  std::printf("logits %s -> %s (%s, %s)\n", opt.input_path.c_str(), opt.out_path.c_str(),
              shape_str(out.shape()).c_str(), device_name(opt.device));
  return 0;
}

}  // namespace hqlt::cli
