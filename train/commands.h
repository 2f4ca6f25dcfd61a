#pragma once
// Every `hqlt` subcommand is a function taking the arguments after its name and returning
// the process exit code. main.cpp only dispatches.
#include <string>
#include <vector>

namespace hqlt::cli {

using Args = std::vector<std::string>;

int bench_gemm(const Args& args);  // hqlt bench gemm [--threads N] [--json]
int bench_ops(const Args& args);   // hqlt bench ops [--threads N] [--json]
int demo(const Args& args);        // hqlt demo: a tiny model whose loss falls
int logits(const Args& args);      // hqlt logits --model DIR --input IDS --out OUT

}  // namespace hqlt::cli
