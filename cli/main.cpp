// hqlt: one executable, one subcommand per job. This file only dispatches.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "cli/omp_spin.h"
#include "engine/error.h"

namespace {

constexpr const char* kUsage =
    "usage: hqlt <command> [options]\n"
    "\n"
    "commands:\n"
    "  train         train a model on a task (hqlt train --help; --resume DIR continues a run)\n"
    "  eval          a run's checkpoint on its task, accuracy by length (--run DIR [--json])\n"
    "  experiment    every model on one task, one table and plot (parity, modular_arithmetic, mqar,\n"
    "                text, rl; hqlt experiment TASK --help)\n"
    "  demo          train a tiny model on a toy task and print its loss falling\n"
    "  bench gemm    GFLOP/s of our GEMM on the anchor shapes (--threads N, --json)\n"
    "  bench ops     fused ops vs their references, fwd and fwd+bwd ms (--threads N, --json)\n"
    "  bench train   ms per training step and tokens/s (--model NAME --preset parity-small|lm-small)\n"
    "  bench generate  tokens/s of cached decoding at batch 1 by position (--model NAME, --tokens N)\n"
    "  logits        logits of a checkpoint for token ids (--model DIR --input IDS --out OUT)\n"
    "  generate      sample text from a checkpoint, printed as it goes (--run DIR | --model DIR)\n"
    "  rl show       play one episode of an RL environment and show it (--env NAME, --png FILE)\n"
    "  rl train      train an RL agent with a memory model (hqlt rl train --help)\n"
    "\n"
    "options:\n"
    "  --help        this text (every command takes --help too)\n"
    "  --version     print the version\n";

}  // namespace

int main(int argc, char** argv) {
  hqlt::cli::restart_with_short_omp_spin(argv);
  hqlt::cli::Args args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      std::fputs(kUsage, args.empty() ? stderr : stdout);
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
      std::printf("hqlt %s\n", HQLT_VERSION);
      return 0;
    }
    const std::string command = args[0];
    hqlt::cli::Args rest(args.begin() + 1, args.end());
    if (command == "demo") return hqlt::cli::demo(rest);
    if (command == "train") return hqlt::cli::train(rest);
    if (command == "eval") return hqlt::cli::eval(rest);
    if (command == "experiment") return hqlt::cli::experiment(rest);
    if (command == "logits") return hqlt::cli::logits(rest);
    if (command == "generate") return hqlt::cli::generate(rest);
    if (command == "rl") return hqlt::cli::rl(rest);
    if (command == "bench") {
      if (rest.empty() || rest[0] == "--help") {
        std::fputs("usage: hqlt bench gemm|ops|train|generate [options]   (hqlt bench NAME --help)\n",
                   rest.empty() ? stderr : stdout);
        return rest.empty() ? 2 : 0;
      }
      hqlt::cli::Args sub(rest.begin() + 1, rest.end());
      if (rest[0] == "gemm") return hqlt::cli::bench_gemm(sub);
      if (rest[0] == "ops") return hqlt::cli::bench_ops(sub);
      if (rest[0] == "train") return hqlt::cli::bench_train(sub);
      if (rest[0] == "generate") return hqlt::cli::bench_generate(sub);
      std::fprintf(stderr, "hqlt bench: unknown benchmark '%s' (known: gemm, ops, train, generate)\n", rest[0].c_str());
      return 2;
    }
    std::fprintf(stderr, "hqlt: unknown command '%s' (see hqlt --help)\n", command.c_str());
    return 2;
  } catch (const hqlt::Error& e) {
    std::fprintf(stderr, "hqlt: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hqlt: internal error: %s\n", e.what());
    return 1;
  }
}
