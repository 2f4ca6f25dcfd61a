#pragma once
// The tape. Every differentiable op that runs while grad mode is on and sees an input that
// requires grad appends one Node to this thread's tape: its inputs (as edges), a name, and
// a backward function that holds what the op saved. Because an op's inputs exist before the
// op runs, creation order is a topological order; walking the tape backwards is therefore a
// valid reverse-mode sweep with no graph sort at all.
//
// Ownership: a non-leaf tensor owns its producing Node; a Node owns the Nodes that produced
// its inputs. The tape itself holds weak references, so a graph nobody holds is freed at
// once, and the tape only fixes the order.
//
// Backward functions compute input gradients with kernels, not with recorded ops (grad
// mode is off while they run), so there is no double backward. They receive the gradient
// of every output (undefined where an output got none) and return one gradient per input
// (undefined where none is needed). Gradients are accumulated (+=) into leaves' .grad.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace hqlt {

// Turns recording off for its lifetime (evaluation, optimiser steps, backward itself).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

bool grad_mode_enabled();

namespace autograd {

using TensorList = std::vector<Tensor>;
// backward(grad_outputs, needs_input_grad) -> one gradient per input.
using BackwardFn = std::function<TensorList(const TensorList&, const std::vector<bool>&)>;

struct Edge {
  std::shared_ptr<Node> producer;      // the node that made this input (non-leaf), or null
  int output_index = 0;                // which of the producer's outputs
  std::shared_ptr<TensorImpl> leaf;    // the input itself when it is a leaf requiring grad
  Shape shape;                         // expected gradient shape
  DType dtype = DType::f32;
  bool needs_grad() const { return producer || leaf; }
};

struct Node {
  std::string name;
  std::vector<Edge> inputs;
  TensorList grad_outputs;  // filled during backward
  BackwardFn backward;
  bool released = false;    // backward has run and freed what it saved
};

// True when grad mode is on and any of the tensors requires grad: the op must record.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const TensorList& inputs);

// Records a node for `outputs`, computed from `inputs`, and marks the outputs as requiring
// grad. Call only when needs_grad(inputs). Save inputs with detach() inside `backward`.
void record(const std::string& name, const TensorList& inputs, const TensorList& outputs, BackwardFn backward);

// Reverse sweep from `root` (see Tensor::backward).
void backward(const Tensor& root, const Tensor& gradient);

// Number of live nodes on this thread's tape (for tests and leak checks).
size_t tape_size();

}  // namespace autograd
}  // namespace hqlt
