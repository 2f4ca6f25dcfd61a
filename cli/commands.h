#pragma once
// Every `hqlt` subcommand is a function taking the arguments after its name and returning
// the process exit code. main.cpp only dispatches.
#include <string>
#include <vector>

namespace hqlt::cli {

using Args = std::vector<std::string>;

int bench_gemm(const Args& args);  // hqlt bench gemm [--threads N] [--json]
int bench_ops(const Args& args);   // hqlt bench ops [--threads N] [--json]
int bench_train(const Args& args);  // hqlt bench train --model NAME --preset P [--threads N] [--json]
int bench_generate(const Args& args);  // hqlt bench generate [--model NAME] [--tokens N] [--json]
int demo(const Args& args);        // hqlt demo: a tiny model whose loss falls
int eval(const Args& args);        // hqlt eval --run DIR [--json]
int experiment(const Args& args);  // hqlt experiment parity|modular_arithmetic|mqar|text|rl [options]
int experiment_mqar(const Args& args);  // its recall grid (the arguments after "mqar")
int experiment_text(const Args& args);  // its language models (the arguments after "text")
int experiment_rl(const Args& args);    // its RL memory comparison (the arguments after "rl")
int train(const Args& args);       // hqlt train [--task T] [--model M] ... | --resume DIR
int generate(const Args& args);  // hqlt generate --run DIR ...
int logits(const Args& args);      // hqlt logits --model DIR --input IDS --out OUT
int rl(const Args& args);          // hqlt rl show --env NAME ...

}  // namespace hqlt::cli
