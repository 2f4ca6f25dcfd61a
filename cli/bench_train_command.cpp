// hqlt bench train: the time of one full training step (forward, cross-entropy, backward,
// AdamW) of a named model at the shapes of the PyTorch anchor benchmark (its "train"
// section), so tokens/s compare directly:
//
//   parity-small  vocab 3,   d_model 128, 2 layers, 4 heads, batch 256, T 40
//   lm-small      vocab 256, d_model 256, 4 layers, 4 heads, batch 16,  T 256
//
// The anchor's SwiGLU width is 8·⌈(8d/3)/8⌉ (344 for d = 128, 688 for d = 256); we set
// intermediate_size to it so both models hold the same matrices. Its DeltaNet mixer has no
// short convolution, so delta_net runs here with use_short_conv = false; every other
// setting is named_model_config's (delta_net keeps SiLU on v and β ∈ (0, 2), which the
// anchor does not have). AdamW as the anchor: lr 1e-3, betas (0.9, 0.95), eps 1e-8,
// weight decay 0.1 on every parameter. One batch of uniform random tokens, drawn once
// from a fixed generator, as the anchor does.
//
// At scale: --config FILE (a model config.json, e.g. models/configs/*_340M.json) with
// --batch and --seq-len times that model on random tokens of its vocabulary instead; with
// --device cuda the model trains on the GPU (--tf32 lets cuBLAS use TF32 tensor cores for
// the f32 GEMMs) and the peak GPU memory is reported.
//
// Timing: two untimed warm-up steps (they fill the caching allocator and create AdamW's
// moments), then steps until --budget seconds have passed (at least 3); we report the
// median, and the medians of its three parts (forward with the loss, backward, optimiser
// step) as the anchor does. Peak RSS is the process's high-water mark (getrusage). On the
// GPU every part ends with a device synchronisation (reading the loss does too), so the
// parts time the GPU's work, not just its launches.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/allocator.h"
#include "engine/device.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "models/causal_lm.h"
#include "models/config_json.h"
#include "nn/adamw.h"
#include "ops/loss/cross_entropy.h"
#include "ops/matmul/matmul.h"
#include "train/device_option.h"
#include "train/model_names.h"

namespace hqlt::cli {
namespace {

constexpr const char* kUsage =
    "usage: hqlt bench train --model NAME --preset parity-small|lm-small [--threads N] [--json]\n"
    "                        [--budget S] [--device cpu|cuda] [--tf32]\n"
    "       hqlt bench train --config FILE --batch B --seq-len T [--device cpu|cuda] [--tf32] ...\n"
    "  times full training steps (forward, loss, backward, AdamW) at the PyTorch anchors' shapes\n"
    "  --model NAME    transformer, delta_net, sync_hqlt, delayed_stream_hqlt,\n"
    "                  delayed_chunk_hqlt, sync_linear_hqlt or delta_net_attn (delta_net\n"
    "                  without short conv, as the anchor)\n"
    "  --preset P      parity-small (vocab 3, d 128, 2 layers, 4 heads, batch 256, T 40) or\n"
    "                  lm-small (vocab 256, d 256, 4 layers, 4 heads, batch 16, T 256)\n"
    "  --threads N     OpenMP threads (default: OpenMP's default)\n"
    "  --json          one JSON object on stdout\n"
    "  --budget S      seconds of timed steps after 2 warm-up steps (default 5; at least 3 steps)\n"
    "  --config FILE   a model's config.json (e.g. models/configs/sync_hqlt_ch64_dynamic-vector-\n"
    "                  mixing_noconv_340M.json) instead of --model/--preset; needs --batch, --seq-len\n"
    "  --device D      cpu (default) or cuda\n"
    "  --tf32          on cuda, let cuBLAS run f32 GEMMs on TF32 tensor cores\n";

struct Preset {
  const char* name;
  int64_t vocab, d_model, layers, heads, batch, seq_len;
};

constexpr Preset kPresets[] = {
    {"parity-small", 3, 128, 2, 4, 256, 40},
    {"lm-small", 256, 256, 4, 4, 16, 256},
};

const Preset& find_preset(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return p;
  fail("bench train: unknown preset '", name, "' (known: parity-small, lm-small)");
}

// The anchor's SwiGLU width: 4d·2/3 rounded up to a multiple of 8, as the PyTorch anchor sizes it.
int64_t anchor_ffn_size(int64_t d) { return 8 * ((8 * d + 3 * 8 - 1) / (3 * 8)); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct StepTimes {
  double fwd_ms, bwd_ms, opt_ms;
  double total_ms() const { return fwd_ms + bwd_ms + opt_ms; }
};

}  // namespace

int bench_train(const Args& args) {
  std::string model_name, preset_name;
  int threads = 0;
  bool json = false;
  double budget = 5.0;
  std::string config_file;
  Device device = Device::cpu;
  int64_t batch = 0, seq_len = 0;
  bool tf32 = false;
  ArgReader r("bench train", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (r.is("--model")) {
      model_name = r.value();
    } else if (r.is("--preset")) {
      preset_name = r.value();
    } else if (r.is("--threads")) {
      threads = int(r.positive_int());
    } else if (r.is("--json")) {
      json = true;
    } else if (r.is("--budget")) {
      budget = r.positive_double();
    } else if (r.is("--config")) {
      config_file = r.value();
    } else if (r.is("--batch")) {
      batch = r.positive_int();
    } else if (r.is("--seq-len")) {
      seq_len = r.positive_int();
    } else if (r.is("--device")) {
      device = train::parse_device(r.value(), "bench train");
    } else if (r.is("--tf32")) {
      tf32 = true;
    } else {
      r.unknown();
    }
  }
  models::ModelConfig config;
  Preset preset{"custom", 0, 0, 0, 0, batch, seq_len};
  bool short_conv_off = false;
  if (!config_file.empty()) {
    HQLT_CHECK(model_name.empty() && preset_name.empty(),
               "bench train: --config replaces --model and --preset; give one or the other");
    HQLT_CHECK(batch > 0 && seq_len > 0, "bench train: --config needs --batch B and --seq-len T");
    config = models::read_config_file(config_file).config;
    model_name = config_file.substr(config_file.find_last_of('/') + 1);
    preset.vocab = config.vocab_size;
  } else {
    HQLT_CHECK(!model_name.empty(), "bench train: missing --model NAME (see hqlt bench train --help)");
    HQLT_CHECK(!preset_name.empty(),
               "bench train: missing --preset parity-small|lm-small (see hqlt bench train --help)");
    HQLT_CHECK(batch == 0 && seq_len == 0, "bench train: --batch and --seq-len go with --config");
    preset = find_preset(preset_name);
    train::ModelShape shape;
    shape.hidden_size = preset.d_model;
    shape.num_layers = preset.layers;
    shape.num_heads = preset.heads;
    shape.intermediate_size = anchor_ffn_size(preset.d_model);
    try {
      config = train::named_model_config(model_name, preset.vocab, shape);
    } catch (const Error& e) {
      fail("bench train: --model: ", e.what());
    }
    short_conv_off = model_name == "delta_net";
    if (short_conv_off) config.use_short_conv = false;  // the anchor's DeltaNet has none
  }
  HQLT_CHECK(!tf32 || device == Device::cuda, "bench train: --tf32 goes with --device cuda");
  train::require_device(device, "bench train");
  if (device == Device::cuda) set_matmul_allow_tf32(tf32);
  set_num_threads(threads);

  Generator gen{1234, 0};
  models::CausalLM model(config, gen);
  model.train();
  model.to(device);
  nn::AdamWOptions adamw;
  adamw.lr = 1e-3;
  adamw.beta1 = 0.9;
  adamw.beta2 = 0.95;
  adamw.eps = 1e-8;
  nn::AdamW optimizer(nn::decay_groups(model, 0.1, /*decay_everything=*/true), adamw);

  const int64_t B = preset.batch, T = preset.seq_len, V = preset.vocab;
  Generator data_gen{42, 0};
  const Tensor inputs = randint(0, V, {B, T}, DType::i64, data_gen).to(device);
  const Tensor targets = randint(0, V, {B, T}, DType::i64, data_gen).to(device);
  // Each part's time includes the GPU's work (a no-op on the CPU).
  auto sync = [device]() { synchronize(device); };

  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  double last_loss = 0;
  auto step = [&]() {
    StepTimes s{};
    auto t0 = clock::now();
    Tensor logits = model.forward(inputs);
    Tensor loss = cross_entropy(logits.reshape({B * T, V}), targets.reshape({B * T}));
    sync();
    s.fwd_ms = ms_since(t0);
    t0 = clock::now();
    optimizer.zero_grad();
    loss.backward();
    sync();
    s.bwd_ms = ms_since(t0);
    t0 = clock::now();
    optimizer.step();
    sync();
    s.opt_ms = ms_since(t0);
    last_loss = loss.item();
    return s;
  };

  for (int i = 0; i < 2; ++i) step();  // warm-up
  std::vector<double> total, fwd, bwd, opt;
  const auto start = clock::now();
  while (total.size() < 3 || ms_since(start) < 1000.0 * budget) {
    StepTimes s = step();
    total.push_back(s.total_ms());
    fwd.push_back(s.fwd_ms);
    bwd.push_back(s.bwd_ms);
    opt.push_back(s.opt_ms);
  }
  // A step that produced a NaN loss timed something other than training.
  HQLT_CHECK(std::isfinite(last_loss), "bench train: the loss became ", last_loss, " (", model_name, ", ",
             preset.name, "); the timings would not describe training");

  const double ms = median(total);
  const double tokens_per_s = double(B * T) / (ms / 1000.0);
  const double rss = peak_rss_mb();
  const double gpu_peak_mb = device == Device::cuda ? double(memory::stats(Device::cuda).peak) / 1048576.0 : 0.0;
  const std::string where = device == Device::cuda ? std::string(tf32 ? "cuda (TF32)" : "cuda (f32)")
                                                   : std::to_string(num_threads()) + " threads";
  if (json) {
    std::printf(
        "{\"model\":\"%s\",\"preset\":\"%s\",\"device\":\"%s\",\"tf32\":%s,\"threads\":%d,"
        "\"batch\":%lld,\"seq_len\":%lld,\"ms_per_step\":%.3f,\"tokens_per_s\":%.1f,\"peak_rss_mb\":%.1f,"
        "\"peak_gpu_mb\":%.1f,\"ms_fwd\":%.3f,\"ms_bwd\":%.3f,\"ms_opt\":%.3f,\"steps\":%zu}\n",
        model_name.c_str(), preset.name, device_name(device), tf32 ? "true" : "false", num_threads(),
        (long long)B, (long long)T, ms, tokens_per_s, rss, gpu_peak_mb, median(fwd), median(bwd), median(opt),
        total.size());
  } else {
    std::printf("bench train %s %s%s: %s, %lld params, batch %lld × %lld tokens, %.1f ms/step (fwd %.1f, bwd %.1f, "
                "opt %.1f; median of %zu), %.0f tokens/s, peak RSS %.1f MB%s, loss %.3f\n",
                model_name.c_str(), preset.name, short_conv_off ? " (short conv off, as the anchor)" : "",
                where.c_str(), (long long)model.num_parameters(), (long long)B, (long long)T, ms, median(fwd),
                median(bwd), median(opt), total.size(), tokens_per_s, rss,
                device == Device::cuda ? (", peak GPU memory " + std::to_string(int64_t(gpu_peak_mb)) + " MB").c_str()
                                       : "",
                last_loss);
  }
  return 0;
}

}  // namespace hqlt::cli
