#include "engine/autograd.h"

#include <algorithm>

namespace hqlt {
namespace {

thread_local bool grad_mode = true;

struct Tape {
  std::vector<std::weak_ptr<autograd::Node>> nodes;
  size_t compacted_size = 64;
};
thread_local Tape tape;

// Drops entries of nodes that were freed or already back-propagated.
void compact() {
  auto& v = tape.nodes;
  v.erase(std::remove_if(v.begin(), v.end(),
                         [](const std::weak_ptr<autograd::Node>& w) {
                           auto n = w.lock();
                           return !n || n->released;
                         }),
          v.end());
  tape.compacted_size = std::max<size_t>(64, 2 * v.size());
}

void add_into(Tensor& slot, const Tensor& g) {
  if (!slot.defined()) {
    slot = g;
    return;
  }
  // The slot may alias a tensor a backward function returned as-is (e.g. add passing its
  // gradient through), so accumulate into a fresh copy rather than in place.
  Tensor sum = clone_contiguous(slot);
  accumulate_into(sum, g);
  slot = sum;
}

}  // namespace

NoGrad::NoGrad() : previous_(grad_mode) { grad_mode = false; }
NoGrad::~NoGrad() { grad_mode = previous_; }
bool grad_mode_enabled() { return grad_mode; }

namespace autograd {

bool needs_grad(const TensorList& inputs) {
  if (!grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool needs_grad(std::initializer_list<Tensor> inputs) { return needs_grad(TensorList(inputs)); }

void record(const std::string& name, const TensorList& inputs, const TensorList& outputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(backward);
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      if (t.impl()->grad_fn) {
        e.producer = t.impl()->grad_fn;
        e.output_index = t.impl()->output_index;
      } else {
        e.leaf = t.impl_ptr();
      }
      e.shape = t.shape();
      e.dtype = t.dtype();
    }
    node->inputs.push_back(std::move(e));
  }
  node->grad_outputs.resize(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl* out = outputs[i].impl();
    out->requires_grad = true;
    out->grad_fn = node;
    out->output_index = int(i);
  }
  tape.nodes.push_back(node);
  if (tape.nodes.size() > tape.compacted_size) compact();
}

void backward(const Tensor& root, const Tensor& gradient) {
  HQLT_CHECK(root.defined(), "backward: called on an undefined tensor");
  HQLT_CHECK(root.requires_grad(), "backward: the tensor does not require grad (no input of the ",
             "computation requires grad, or it was computed under NoGrad)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    HQLT_CHECK(root.numel() == 1, "backward: a non-scalar tensor of shape ", shape_str(root.shape()),
               " needs an explicit gradient of the same shape");
    seed = ones(root.shape(), root.dtype(), root.device());
  }
  HQLT_CHECK(seed.shape() == root.shape(), "backward: gradient shape ", shape_str(seed.shape()),
             " differs from the tensor's shape ", shape_str(root.shape()));

  NoGrad no_grad;
  std::shared_ptr<Node> root_node = root.impl()->grad_fn;
  if (!root_node) {  // a leaf: its gradient is the seed itself
    Tensor acc(root.impl()->grad);
    if (!acc.defined()) acc = zeros(root.shape(), root.dtype(), root.device());
    accumulate_into(acc, seed);
    root.impl()->grad = acc.impl_ptr();
    return;
  }
  HQLT_CHECK(!root_node->released, "backward: this graph was already back-propagated (op '",
             root_node->name, "'); its saved tensors are freed. Run the forward pass again.");

  // Pin every live node from the root back to the tape's start: a node's only owner may
  // be a later node, whose edges are dropped as soon as it has run.
  std::vector<std::shared_ptr<Node>> order;
  bool found = false;
  for (auto it = tape.nodes.rbegin(); it != tape.nodes.rend(); ++it) {
    std::shared_ptr<Node> node = it->lock();
    if (!node || node->released) continue;
    if (node == root_node) found = true;
    if (found) order.push_back(std::move(node));
  }
  HQLT_CHECK(found, "backward: the graph of op '", root_node->name,
             "' is not on this thread's tape (built on another thread, or the tape was cleared)");
  add_into(root_node->grad_outputs[size_t(root.impl()->output_index)], seed);

  for (std::shared_ptr<Node>& node : order) {
    bool reached = std::any_of(node->grad_outputs.begin(), node->grad_outputs.end(),
                               [](const Tensor& g) { return g.defined(); });
    if (!reached) continue;
    std::vector<bool> needs(node->inputs.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = node->inputs[i].needs_grad();
    TensorList grads = node->backward(node->grad_outputs, needs);
    HQLT_CHECK(grads.size() == node->inputs.size(), "backward of '", node->name, "' returned ",
               grads.size(), " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      Edge& e = node->inputs[i];
      if (!e.needs_grad() || !grads[i].defined()) continue;
      HQLT_CHECK(grads[i].shape() == e.shape, "backward of '", node->name, "': gradient for input ", i,
                 " has shape ", shape_str(grads[i].shape()), ", the input has shape ", shape_str(e.shape));
      if (e.producer) {
        add_into(e.producer->grad_outputs[size_t(e.output_index)], grads[i]);
      } else {
        Tensor acc(e.leaf->grad);
        if (!acc.defined()) acc = zeros(e.shape, e.dtype, grads[i].device());
        accumulate_into(acc, grads[i]);
        e.leaf->grad = acc.impl_ptr();
      }
    }
    // Free what this node saved; keep the node so a second backward reports itself.
    node->grad_outputs.clear();
    node->backward = nullptr;
    node->inputs.clear();
    node->released = true;
  }
  compact();
}

size_t tape_size() {
  compact();
  return tape.nodes.size();
}

}  // namespace autograd
}  // namespace hqlt
