#pragma once
// Module: the base class of every layer and model. A module owns named parameters and named
// sub-modules, both kept in registration order, so that the dotted names it reports
// ("layers.0.mlp.down_proj.weight") are exactly the state-dict names of the reference
// implementation (docs/math/models.md §7.1) and the order is stable from run to run.
//
//   register_parameter("weight", t)   t becomes a leaf that requires grad; the returned
//                                     reference is a stable slot (replacing the Tensor in
//                                     it replaces the parameter)
//   register_module("mlp", m)         m's parameters appear under "mlp."
//   named_parameters()                (dotted name, Tensor), depth first, in registration order
//   state_dict() / load_state_dict()  the same names; loading copies values into the
//                                     existing tensors, so optimisers holding them stay valid
//   ModuleList                        children named "0", "1", ... ("layers.{i}")
//
// Parameters are plain tensors: a layer's forward reads them like any other input, and the
// tape sends gradients into their .grad. There are no buffers: the only non-parameter state
// of these models (the RoPE table) is recomputed, never stored (§7).
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace hqlt::nn {

using NamedTensor = std::pair<std::string, Tensor>;
// A state dict: dotted name -> tensor. Lookups by name; iteration is alphabetical.
using StateDict = std::map<std::string, Tensor>;

// What a non-strict load skipped (strict loads throw instead of returning any).
struct LoadReport {
  std::vector<std::string> missing;     // parameters of the module absent from the state dict
  std::vector<std::string> unexpected;  // state-dict names the module does not have
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The class name used in messages ("Linear", "GatedMLP", ...).
  virtual std::string type_name() const { return "Module"; }

  // Registration. Names must be non-empty, contain no '.', and be unique within this module
  // (parameters and sub-modules share one namespace).
  Tensor& register_parameter(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // Parameters of this module and all sub-modules, depth first in registration order:
  // a module's own parameters come before those of its sub-modules.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;  // total number of elements
  // This module's own parameters / direct sub-modules, in registration order.
  const std::deque<NamedTensor>& own_parameters() const { return params_; }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // Every module of the tree with its dotted path; this module itself comes first, as "".
  std::vector<std::pair<std::string, Module*>> named_modules();

  // The parameter (or sub-module) with this dotted name; throws naming it if absent.
  Tensor& parameter(const std::string& dotted_name);
  Module& module(const std::string& dotted_name);

  // Training flag, propagated to every sub-module (no layer here behaves differently yet,
  // but the flag is part of the contract callers rely on).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Drops every parameter's accumulated gradient.
  void zero_grad();
  // Converts every parameter to `dtype` (new leaves that keep requires_grad).
  void to(DType dtype);
  // Moves every parameter to `device` (new leaves that keep requires_grad). Do it before
  // an optimiser is made: the optimiser holds the parameter tensors themselves.
  void to(Device device);
  // The device of the parameters (cpu for a module without any).
  Device device() const;

  // Detached views of every parameter under its dotted name (sharing storage).
  StateDict state_dict() const;
  // Copies values from `state` into the parameters. Every listed problem is checked before
  // anything is copied, so a failed load leaves the module unchanged. Shape and dtype
  // mismatches always throw; missing and unexpected names throw when strict, and are
  // reported otherwise.
  LoadReport load_state_dict(const StateDict& state, bool strict = true);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, std::vector<NamedTensor>& out) const;

  // A deque keeps references to its elements valid as more are added, so the slots
  // returned by register_parameter stay put.
  std::deque<NamedTensor> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// ModuleList: sub-modules named "0", "1", ... in order — the "layers.{i}" of the models.
class ModuleList : public Module {
 public:
  std::string type_name() const override { return "ModuleList"; }
  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return register_module(std::to_string(children().size()), std::move(module));
  }
  size_t size() const { return children().size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const { return children().at(i).second; }
};

}  // namespace hqlt::nn
