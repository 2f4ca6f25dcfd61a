#pragma once
// Idle OpenMP threads and a busy machine.
//
// Between parallel loops libgomp's idle threads spin for about 0.3 ms before they sleep. On a
// quiet machine that saves a wake-up; on one where another process holds a core, the
// spinning threads take its time slices, and a 2-thread training step slows 2.7× instead of
// 1.9× (bench/RESULTS.md, "Training steps"). libgomp reads its spin count once, when the
// program loads, so the only way for a program to choose it is to set GOMP_SPINCOUNT and
// start itself again. hqlt does that once, at start-up, unless the user has chosen
// (OMP_WAIT_POLICY or GOMP_SPINCOUNT set): the short spin costs about 2% on a quiet machine.
namespace hqlt::cli {

// Restarts the program with GOMP_SPINCOUNT=1000 when neither variable is set; returns
// (without restarting) when one is, or when the restart is not possible.
void restart_with_short_omp_spin(char** argv);

}  // namespace hqlt::cli
