#pragma once
// The machine's f32 multiply-add ceiling, measured rather than looked up: what every CPU
// rate in `hqlt bench` is a fraction of.
//
// Each thread runs kChains independent chains of vector FMAs (acc ← acc·a + b) on registers
// only, so nothing but the FMA units' throughput limits it: a chain waits 4–5 cycles for its
// previous result, and two FMA ports need ~10 chains in flight to stay busy. The rate counts
// 2 FLOPs per multiply-add, as the kernels' FLOP counts do (docs/math/kernels.md §8).
namespace hqlt::gemm {

// GFLOP/s of `threads` threads each running the chains for about `seconds` (the count of
// iterations is calibrated on one short run first).
double measure_fma_peak_gflops(int threads, double seconds = 0.25);

}  // namespace hqlt::gemm
