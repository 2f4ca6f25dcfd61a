#include "nn/adamw.h"

#include <cmath>
#include <map>
#include <set>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/parallel.h"
#include "nn/adamw_math.h"
#include "nn/embedding.h"
#include "nn/optim_cuda.h"

namespace hqlt::nn {
namespace {

constexpr const char* kSuffixes[] = {".exp_avg", ".exp_avg_sq", ".step"};

// The per-element update (adamw_math.h) over a contiguous parameter.
template <typename T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamWCoefficients<T>& c) {
#pragma omp parallel for schedule(static) if (should_parallelize(n))
  for (int64_t i = 0; i < n; ++i) adamw_element(p[i], g[i], m[i], v[i], c);
}

}  // namespace

std::vector<ParamGroup> decay_groups(Module& model, double weight_decay, bool decay_everything) {
  std::set<TensorImpl*> embedding_tables;
  for (auto& [path, m] : model.named_modules())
    if (auto* emb = dynamic_cast<Embedding*>(m)) embedding_tables.insert(emb->weight.impl());
  ParamGroup decay{{}, weight_decay}, no_decay{{}, 0.0};
  for (auto& named : model.named_parameters()) {
    bool exempt = named.second.dim() < 2 || embedding_tables.count(named.second.impl());
    (decay_everything || !exempt ? decay : no_decay).params.push_back(named);
  }
  std::vector<ParamGroup> groups;
  if (!decay.params.empty()) groups.push_back(std::move(decay));
  if (!no_decay.params.empty()) groups.push_back(std::move(no_decay));
  return groups;
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options) : groups_(std::move(groups)), options_(options) {
  HQLT_CHECK(options.lr >= 0, "AdamW: lr must be >= 0, got ", options.lr);
  HQLT_CHECK(options.beta1 >= 0 && options.beta1 < 1, "AdamW: beta1 must be in [0, 1), got ", options.beta1);
  HQLT_CHECK(options.beta2 >= 0 && options.beta2 < 1, "AdamW: beta2 must be in [0, 1), got ", options.beta2);
  HQLT_CHECK(options.eps >= 0, "AdamW: eps must be >= 0, got ", options.eps);
  std::set<std::string> names;
  std::set<TensorImpl*> tensors;
  for (const ParamGroup& group : groups_) {
    HQLT_CHECK(group.weight_decay >= 0, "AdamW: weight_decay must be >= 0, got ", group.weight_decay);
    for (const auto& [name, p] : group.params) {
      HQLT_CHECK(p.defined() && is_floating(p.dtype()), "AdamW: parameter '", name, "' must be an f32 or f64 tensor");
      if constexpr (!kWithCuda) {
        HQLT_CHECK(p.device() == Device::cpu, "AdamW: parameter '", name, "' is on ", device_name(p.device()),
                   "; this hqlt was built without CUDA");
      }
      HQLT_CHECK(p.is_leaf() && p.is_contiguous(), "AdamW: parameter '", name, "' must be a contiguous leaf tensor");
      HQLT_CHECK(names.insert(name).second, "AdamW: parameter name '", name, "' appears twice");
      HQLT_CHECK(tensors.insert(p.impl()).second, "AdamW: parameter '", name, "' is listed twice under two names");
      states_.emplace_back();
    }
  }
}

AdamW::AdamW(const std::vector<NamedTensor>& params, AdamWOptions options)
    : AdamW(std::vector<ParamGroup>{ParamGroup{params, options.weight_decay}}, options) {}

void AdamW::set_lr(double lr) {
  HQLT_CHECK(lr >= 0, "AdamW: lr must be >= 0, got ", lr);
  options_.lr = lr;
}

void AdamW::step() {
  NoGrad no_grad;
  size_t k = 0;
  for (const ParamGroup& group : groups_) {
    for (const auto& named : group.params) {
      const std::string& name = named.first;
      const Tensor& p = named.second;  // a plain reference: lambdas below capture it
      AdamWParamState& st = states_[k++];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      HQLT_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(),
                 "AdamW: the gradient of '", name, "' has shape ", shape_str(g.shape()), ", dtype ",
                 dtype_name(g.dtype()), " and device ", device_name(g.device()), ", expected ", shape_str(p.shape()),
                 ", ", dtype_name(p.dtype()), " and ", device_name(p.device()));
      if (!g.is_contiguous()) g = clone_contiguous(g);
      if (!st.exp_avg.defined()) {
        st.exp_avg = zeros(p.shape(), p.dtype(), p.device());
        st.exp_avg_sq = zeros(p.shape(), p.dtype(), p.device());
      }
      st.step += 1;
      const double t = double(st.step);
      const double step_size = options_.lr / (1.0 - std::pow(options_.beta1, t));
      const double bc2_sqrt = std::sqrt(1.0 - std::pow(options_.beta2, t));
      dispatch_float(p.dtype(), "AdamW", [&]<typename T>() {
        const auto c = AdamWCoefficients<T>::make(options_.lr, group.weight_decay, options_.beta1, options_.beta2,
                                                  options_.eps, step_size, bc2_sqrt);
        T *pp = p.data<T>(), *m = st.exp_avg.data<T>(), *v = st.exp_avg_sq.data<T>();
        if constexpr (kWithCuda) {
          if (p.device() == Device::cuda) return adamw_update_cuda(pp, g.data<T>(), m, v, p.numel(), c);
        }
        adamw_update<T>(pp, g.data<T>(), m, v, p.numel(), c);
      });
    }
  }
}

void AdamW::zero_grad() {
  for (const ParamGroup& group : groups_)
    for (const auto& [name, p] : group.params) Tensor(p).zero_grad();
}

AdamWParamState& AdamW::state(const std::string& wanted) {
  size_t k = 0;
  for (const ParamGroup& group : groups_)
    for (const auto& [name, p] : group.params) {
      if (name == wanted) return states_[k];
      ++k;
    }
  fail("AdamW: no parameter named '", wanted, "'");
}

StateDict AdamW::state_dict() const {
  StateDict out;
  size_t k = 0;
  for (const ParamGroup& group : groups_)
    for (const auto& [name, p] : group.params) {
      const AdamWParamState& st = states_[k++];
      if (st.step == 0) continue;
      out.emplace(name + ".exp_avg", st.exp_avg.detach());
      out.emplace(name + ".exp_avg_sq", st.exp_avg_sq.detach());
      out.emplace(name + ".step", from_vector({double(st.step)}, {1}, DType::i64));
    }
  return out;
}

void AdamW::load_state_dict(const StateDict& state) {
  // Index the parameters by name, then check every entry before changing anything.
  std::map<std::string, std::pair<Tensor, size_t>> by_name;
  size_t k = 0;
  for (const ParamGroup& group : groups_)
    for (const auto& [name, p] : group.params) by_name.emplace(name, std::make_pair(p, k++));

  std::map<std::string, int> parts_seen;
  for (const auto& [key, t] : state) {
    std::string base, suffix;
    for (const char* s : kSuffixes) {
      std::string sfx = s;
      if (key.size() > sfx.size() && key.compare(key.size() - sfx.size(), sfx.size(), sfx) == 0 &&
          by_name.count(key.substr(0, key.size() - sfx.size()))) {
        base = key.substr(0, key.size() - sfx.size());
        suffix = sfx;
      }
    }
    HQLT_CHECK(!base.empty(), "AdamW.load_state_dict: '", key, "' does not name the state of any parameter");
    const Tensor& p = by_name.at(base).first;
    if (suffix == ".step") {
      HQLT_CHECK(t.numel() == 1 && !is_floating(t.dtype()), "AdamW.load_state_dict: '", key,
                 "' must be one integer, got shape ", shape_str(t.shape()), " ", dtype_name(t.dtype()));
      HQLT_CHECK(t.item() >= 1, "AdamW.load_state_dict: '", key, "' must be >= 1, got ", t.item());
    } else {
      HQLT_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype(), "AdamW.load_state_dict: '", key,
                 "': expected shape ", shape_str(p.shape()), " ", dtype_name(p.dtype()), ", got ",
                 shape_str(t.shape()), " ", dtype_name(t.dtype()));
    }
    parts_seen[base] += 1;
  }
  for (const auto& [base, n] : parts_seen)
    HQLT_CHECK(n == 3, "AdamW.load_state_dict: parameter '", base,
               "' needs all of .exp_avg, .exp_avg_sq and .step, got ", n, " of them");

  for (const auto& [name, entry] : by_name) {
    AdamWParamState& st = states_[entry.second];
    if (!parts_seen.count(name)) {
      st = AdamWParamState{};
      continue;
    }
    const Tensor& p = entry.first;
    st.step = int64_t(state.at(name + ".step").item());
    st.exp_avg = empty(p.shape(), p.dtype(), p.device());
    st.exp_avg_sq = empty(p.shape(), p.dtype(), p.device());
    copy_into(st.exp_avg, state.at(name + ".exp_avg"));
    copy_into(st.exp_avg_sq, state.at(name + ".exp_avg_sq"));
  }
}

}  // namespace hqlt::nn
