#pragma once
// The CUDA kernel of where and masked_fill (where.cu), called by where.cpp for tensors on
// cuda; only a build with CUDA defines it.
#include "engine/tensor.h"

namespace hqlt::detail {

// One input of choose_cuda: a tensor on cuda read through `strides` over the output's
// shape (0 where broadcast), or, when `t` is undefined, the constant `value`.
struct ChooseOperand {
  Tensor t;
  Strides strides;
  double value = 0;
};

// out[i] = cond[i] != 0 ? a[i] : b[i] (where_math.h's choose) for every element of out,
// which is contiguous, on cuda and of a's float dtype; cond may have any dtype.
void choose_cuda(const char* op, const Tensor& out, const ChooseOperand& cond, const ChooseOperand& a,
                 const ChooseOperand& b);

}  // namespace hqlt::detail
