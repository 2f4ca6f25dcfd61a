#pragma once
// What every walkthrough chapter's program starts with: the engine, the ops, the layers and
// the models, `using namespace hqlt`, and where a chapter writes its pictures.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "ops/attention/attention.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/loss/cross_entropy.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/views.h"
#include "ops/softmax/softmax.h"
#include "svg.h"

using namespace hqlt;

// The file a chapter's picture goes to: into $HQLT_WALKTHROUGH_IMG when it is set (the
// command that regenerates the pictures checked into docs/walkthrough/img/ sets it), else
// beside the program in the build folder, so a test run never touches the sources.
inline std::string picture_path(const std::string& name) {
  const char* dir = std::getenv("HQLT_WALKTHROUGH_IMG");
  return (dir && *dir ? std::string(dir) : std::string(".")) + "/" + name;
}
