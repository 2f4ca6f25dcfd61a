// hqlt generate: text from a trained model, printed as it is sampled.
//
// The checkpoint is a folder in the Hugging Face layout (models/checkpoint.h): --model DIR
// names it, --run DIR names a training run whose latest checkpoint is DIR/checkpoint/.
// Byte-level models (vocab_size 256) read the prompt as bytes and write each sampled byte
// to stdout at once; other models take and print token ids. Decoding and sampling live in
// train/sampling.h. Every bad option or input is one hqlt::Error, raised before anything is
// printed; only a model whose logits turn NaN stops with an error part way.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/parallel.h"
#include "io/json.h"
#include "models/checkpoint.h"
#include "train/sampling.h"

namespace hqlt::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGenerateUsage =
    "usage: hqlt generate (--run DIR | --model DIR) [--prompt TEXT | --prompt-ids IDS]\n"
    "                     [--tokens N] [--temperature T] [--top-k K] [--seed S]\n"
    "                     [--context N] [--threads N]\n"
    "  --run DIR          a training run: its latest checkpoint, DIR/checkpoint/\n"
    "  --model DIR        a checkpoint folder (config.json + model.safetensors)\n"
    "  --prompt TEXT      byte-level models (vocab_size 256) only: the text's bytes start the\n"
    "                     sequence (default: empty, which starts from one newline, byte 10)\n"
    "  --prompt-ids IDS   token ids, comma-separated (\"1,2,3\"), for a model of any vocabulary\n"
    "                     (default for non-byte models: the single token 0)\n"
    "  --tokens N         how many tokens to sample (default 200)\n"
    "  --temperature T    softmax temperature, >= 0; 0 = greedy argmax (default 0.8)\n"
    "  --top-k K          sample among the K most likely tokens only; 0 = all (default 0)\n"
    "  --seed S           the sampler's seed: the same seed gives the same text (default 1)\n"
    "  --context N        feed at most the last N prompt tokens (default: the run's seq_len\n"
    "                     from DIR/train_options.json with --run, else 256); decoding is\n"
    "                     cached, so the model then remembers every token it was fed\n"
    "  --threads N        CPU threads (default: OpenMP's)\n"
    "Output: byte-level models print the prompt, then each sampled byte as it comes, with no\n"
    "newline added; other models print the prompt's ids, then each sampled id, separated by\n"
    "spaces, then a newline. A summary line goes to stderr.\n";

constexpr int64_t kByteVocab = 256;
constexpr int64_t kDefaultContext = 256;

struct GenerateOptions {
  std::string run_dir, model_dir;
  bool has_prompt = false, has_prompt_ids = false;
  std::string prompt;
  std::vector<int64_t> prompt_ids;
  int64_t tokens = 200;
  train::SamplingOptions sampling;
  uint64_t seed = 1;
  int64_t context = 0;  // 0: from the run, or kDefaultContext
  int threads = 0;
};


// The checkpoint folder the options name; load_pretrained reports a missing file in it.
std::string checkpoint_dir(const GenerateOptions& opt) {
  HQLT_CHECK(opt.run_dir.empty() != opt.model_dir.empty(),
             "generate: give exactly one of --run DIR and --model DIR (see hqlt generate --help)");
  if (!opt.model_dir.empty()) {
    HQLT_CHECK(fs::is_directory(opt.model_dir), "generate: --model '", opt.model_dir, "' is not a folder");
    return opt.model_dir;
  }
  HQLT_CHECK(fs::is_directory(opt.run_dir), "generate: --run '", opt.run_dir, "' is not a folder");
  const std::string dir = (fs::path(opt.run_dir) / "checkpoint").string();
  HQLT_CHECK(fs::is_directory(dir), "generate: --run '", opt.run_dir, "' has no checkpoint folder ('", dir,
             "' does not exist)");
  return dir;
}

// --context, else the run's training sequence length, else the default.
int64_t context_length(const GenerateOptions& opt) {
  if (opt.context > 0) return opt.context;
  if (opt.run_dir.empty()) return kDefaultContext;
  const fs::path path = fs::path(opt.run_dir) / "train_options.json";
  if (!fs::is_regular_file(path)) return kDefaultContext;
  const io::Json options = io::read_json_file(path.string());
  if (!options.is_object() || !options.contains("seq_len")) return kDefaultContext;
  const int64_t seq_len = options.value("seq_len", int64_t(0));
  HQLT_CHECK(seq_len > 0, "generate: '", path.string(), "': seq_len must be a positive integer, got ", seq_len);
  return seq_len;
}

// The first tokens, and what of them to echo (the implicit start token is not echoed).
std::vector<int64_t> prompt_tokens(const GenerateOptions& opt, int64_t vocab, bool& echo) {
  HQLT_CHECK(!(opt.has_prompt && opt.has_prompt_ids), "generate: give --prompt or --prompt-ids, not both");
  const bool bytes = vocab == kByteVocab;
  HQLT_CHECK(!opt.has_prompt || bytes, "generate: --prompt TEXT needs a byte-level model (vocab_size ", kByteVocab,
             "), this one has vocab_size ", vocab, "; give token ids with --prompt-ids 1,2,3");
  std::vector<int64_t> ids = opt.prompt_ids;
  if (opt.has_prompt)
    for (unsigned char c : opt.prompt) ids.push_back(int64_t(c));
  echo = !ids.empty();
  if (ids.empty()) ids.push_back(bytes ? int64_t('\n') : 0);
  for (size_t i = 0; i < ids.size(); ++i)
    HQLT_CHECK(ids[i] < vocab, "generate: --prompt-ids: token ", i, " is ", ids[i], ", outside the vocabulary [0, ",
               vocab, ")");
  return ids;
}

// Writes one token: a raw byte for byte-level models, else its id after a space.
void print_token(int64_t token, bool bytes, bool first) {
  if (bytes) {
    const unsigned char c = (unsigned char)token;
    std::fwrite(&c, 1, 1, stdout);
  } else {
    std::printf(first ? "%lld" : " %lld", (long long)token);
  }
  std::fflush(stdout);  // the user sees the text as it is sampled
}

}  // namespace

int generate(const Args& args) {
  GenerateOptions opt;
  ArgReader r("generate", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kGenerateUsage, stdout);
      return 0;
    } else if (r.is("--run")) {
      opt.run_dir = r.value();
    } else if (r.is("--model")) {
      opt.model_dir = r.value();
    } else if (r.is("--prompt")) {
      opt.prompt = r.value();
      opt.has_prompt = true;
    } else if (r.is("--prompt-ids")) {
      opt.prompt_ids = r.non_negative_int_list();
      opt.has_prompt_ids = true;
    } else if (r.is("--tokens")) {
      opt.tokens = r.positive_int();
    } else if (r.is("--temperature")) {
      opt.sampling.temperature = r.non_negative_double();
    } else if (r.is("--top-k")) {
      opt.sampling.top_k = r.non_negative_int();
    } else if (r.is("--seed")) {
      opt.seed = uint64_t(r.non_negative_int());
    } else if (r.is("--context")) {
      opt.context = r.positive_int();
    } else if (r.is("--threads")) {
      opt.threads = int(r.positive_int());
    } else {
      r.unknown();
    }
  }
  const std::string dir = checkpoint_dir(opt);
  const int64_t context = context_length(opt);
  set_num_threads(opt.threads);

  std::string warning;
  std::shared_ptr<models::CausalLM> model = models::load_pretrained(dir, DType::f32, &warning);
  if (!warning.empty()) std::fprintf(stderr, "hqlt generate: warning: %s\n", warning.c_str());
  const int64_t vocab = model->config().vocab_size;
  HQLT_CHECK(opt.sampling.top_k <= vocab, "generate: option --top-k must be in [0, ", vocab,
             "] (the model's vocabulary), got ", opt.sampling.top_k);
  bool echo = false;
  const std::vector<int64_t> prompt = prompt_tokens(opt, vocab, echo);

  const bool bytes = vocab == kByteVocab;
  bool first = true;
  if (echo)
    for (int64_t t : prompt) print_token(t, bytes, std::exchange(first, false));
  Generator gen{opt.seed, 0};
  const auto start = std::chrono::steady_clock::now();
  train::generate_tokens(*model, prompt, opt.tokens, context, opt.sampling, gen,
                         [&](int64_t t) { print_token(t, bytes, std::exchange(first, false)); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!bytes) std::fputc('\n', stdout);
  std::fflush(stdout);
  std::fprintf(stderr, "%shqlt generate: %lld tokens in %.2f s (%.1f tokens/s), context %lld, temperature %g, "
               "top-k %lld, seed %llu\n", bytes ? "\n" : "", (long long)opt.tokens, seconds,
               double(opt.tokens) / std::max(seconds, 1e-9), (long long)context, opt.sampling.temperature,
               (long long)opt.sampling.top_k, (unsigned long long)opt.seed);
  return 0;
}

}  // namespace hqlt::cli
