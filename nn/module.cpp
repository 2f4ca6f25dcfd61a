#include "nn/module.h"

#include <sstream>

#include "engine/autograd.h"

namespace hqlt::nn {
namespace {

// "a, b, c and 4 more" — long lists of names stay readable in one error line.
std::string name_list(const std::vector<std::string>& names, size_t shown = 8) {
  std::ostringstream o;
  for (size_t i = 0; i < names.size() && i < shown; ++i) o << (i ? ", " : "") << "'" << names[i] << "'";
  if (names.size() > shown) o << " and " << names.size() - shown << " more";
  return o.str();
}

}  // namespace

void Module::check_new_name(const std::string& name) const {
  HQLT_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(),
             ": a parameter or sub-module name must be non-empty and contain no '.', got '", name, "'");
  for (const auto& [n, t] : params_)
    HQLT_CHECK(n != name, type_name(), ": the name '", name, "' is already registered as a parameter");
  for (const auto& [n, m] : children_)
    HQLT_CHECK(n != name, type_name(), ": the name '", name, "' is already registered as a sub-module");
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  HQLT_CHECK(value.defined(), type_name(), ": parameter '", name, "' is undefined");
  HQLT_CHECK(is_floating(value.dtype()), type_name(), ": parameter '", name, "' must be f32 or f64, got ",
             dtype_name(value.dtype()));
  Tensor leaf = value.detach();
  leaf.set_requires_grad(true);
  params_.emplace_back(name, leaf);
  return params_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  HQLT_CHECK(module != nullptr, type_name(), ": sub-module '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, std::vector<NamedTensor>& out) const {
  for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

Tensor& Module::parameter(const std::string& dotted_name) {
  size_t dot = dotted_name.rfind('.');
  Module& owner = dot == std::string::npos ? *this : module(dotted_name.substr(0, dot));
  std::string leaf = dot == std::string::npos ? dotted_name : dotted_name.substr(dot + 1);
  for (auto& [name, t] : owner.params_)
    if (name == leaf) return t;
  fail(type_name(), ": no parameter named '", dotted_name, "'");
}

Module& Module::module(const std::string& dotted_name) {
  Module* m = this;
  size_t start = 0;
  while (start <= dotted_name.size()) {
    size_t dot = dotted_name.find('.', start);
    std::string part = dotted_name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Module* next = nullptr;
    for (auto& [name, child] : m->children_)
      if (name == part) next = child.get();
    HQLT_CHECK(next != nullptr, type_name(), ": no sub-module named '", dotted_name, "'");
    m = next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *m;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) t.zero_grad();
}

void Module::to(DType dtype) {
  HQLT_CHECK(is_floating(dtype), type_name(), ".to: parameters must be f32 or f64, got ", dtype_name(dtype));
  for (auto& [name, t] : params_) {
    if (t.dtype() == dtype) continue;
    Tensor converted = empty(t.shape(), dtype, t.device());
    copy_into(converted, t);
    converted.set_requires_grad(t.requires_grad());
    t = converted;
  }
  for (auto& [name, child] : children_) child->to(dtype);
}

void Module::to(Device device) {
  NoGrad no_grad;
  for (auto& [name, t] : params_) {
    if (t.device() == device) continue;
    Tensor moved = clone_contiguous(t.detach().to(device));
    moved.set_requires_grad(t.requires_grad());
    t = moved;
  }
  for (auto& [name, child] : children_) child->to(device);
}

Device Module::device() const {
  const std::vector<NamedTensor> params = named_parameters();
  return params.empty() ? Device::cpu : params.front().second.device();
}

StateDict Module::state_dict() const {
  StateDict out;
  for (auto& [name, t] : named_parameters()) out.emplace(name, t.detach());
  return out;
}

LoadReport Module::load_state_dict(const StateDict& state, bool strict) {
  std::vector<NamedTensor> params = named_parameters();
  LoadReport report;
  std::map<std::string, bool> known;
  for (const auto& [name, p] : params) {
    known[name] = true;
    auto it = state.find(name);
    if (it == state.end()) {
      report.missing.push_back(name);
      continue;
    }
    const Tensor& src = it->second;
    HQLT_CHECK(src.defined(), "load_state_dict: '", name, "' is an undefined tensor");
    HQLT_CHECK(src.shape() == p.shape(), "load_state_dict: '", name, "': expected shape ", shape_str(p.shape()),
               ", got ", shape_str(src.shape()));
    HQLT_CHECK(src.dtype() == p.dtype(), "load_state_dict: '", name, "': expected dtype ", dtype_name(p.dtype()),
               ", got ", dtype_name(src.dtype()));
  }
  for (const auto& [name, t] : state)
    if (!known.count(name)) report.unexpected.push_back(name);
  if (strict) {
    HQLT_CHECK(report.missing.empty(), "load_state_dict: ", report.missing.size(), " missing parameter(s): ",
               name_list(report.missing));
    HQLT_CHECK(report.unexpected.empty(), "load_state_dict: ", report.unexpected.size(),
               " unexpected name(s): ", name_list(report.unexpected));
  }
  NoGrad no_grad;
  for (const auto& [name, p] : params) {
    auto it = state.find(name);
    if (it != state.end() && !it->second.same(p)) copy_into(p, it->second);
  }
  return report;
}

}  // namespace hqlt::nn
