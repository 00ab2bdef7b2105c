#include "optim/adamw.h"

#include "optim/adamw_kernel.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <map>
#include <stdexcept>

namespace tc {
namespace {

// The one-pass path applies to float32 CPU tensors laid out alike (as built by zeros_like); others (CUDA,
// bfloat16 parameters) take the multi-tensor ops.
bool one_pass(const torch::Tensor& p, const torch::Tensor& g, const torch::Tensor& m, const torch::Tensor& v) {
  auto ok = [&](const torch::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous(); };
  return ok(p) && ok(g) && ok(m) && ok(v) && g.numel() == p.numel();
}

void adamw_one_pass(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v, const AdamWScalars& s) {
  float* pp = p.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* mp = m.data_ptr<float>();
  float* vp = v.data_ptr<float>();
  at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) { adamw_update_f32(pp, gp, mp, vp, begin, end, s); });
  // Written through raw pointers, so tell torch the tensors changed, as its in-place ops do: caches keyed on
  // the version counter (the decoder's transposed lm_head copy) and autograd's saved-tensor checks see it.
  for (auto* t : {&p, &m, &v}) t->unsafeGetTensorImpl()->bump_version();
}

}  // namespace

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions options) : o_(std::move(options)) {
  for (auto& [name, p] : params) {
    if (!p.requires_grad()) continue;
    bool decay = true;
    for (const auto& pat : o_.no_decay)
      if (name.find(pat) != std::string::npos) decay = false;
    slots_.push_back({name, p, {}, {}, decay ? o_.weight_decay : 0.0});
  }
}

void AdamW::step() {
  torch::NoGradGuard no_grad;
  ++step_;
  const double bc1 = 1.0 - std::pow(o_.beta1, double(step_));
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(o_.beta2, double(step_)));
  const double step_size = o_.lr / bc1;
  // Parameters with a gradient: float32 CPU ones in one pass each (above); the others grouped by weight decay
  // and device and updated with the multi-tensor (_foreach_) ops, one kernel launch per op per group on CUDA
  // instead of one per parameter, in the op sequence of torch 1.13's single-tensor AdamW.
  std::map<std::pair<double, std::string>, std::vector<Slot*>> groups;
  for (auto& s : slots_) {
    if (!s.param.grad().defined()) continue;
    if (!s.exp_avg.defined()) {
      s.exp_avg = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
      s.exp_avg_sq = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
    }
    const auto& g = s.param.grad();
    if (one_pass(s.param, g, s.exp_avg, s.exp_avg_sq)) {
      const AdamWScalars k{float(1.0 - o_.lr * s.weight_decay), float(o_.beta1), float(1.0 - o_.beta1), float(o_.beta2), float(1.0 - o_.beta2),
                           float(bc2_sqrt), float(o_.eps), float(-step_size)};
      auto p = s.param.detach();
      adamw_one_pass(p, g, s.exp_avg, s.exp_avg_sq, k);
      continue;
    }
    groups[{s.weight_decay, s.param.device().str()}].push_back(&s);
  }
  for (auto& [key, slots] : groups) {
    std::vector<torch::Tensor> params, grads, m, v;
    for (auto* s : slots) {
      params.push_back(s->param);
      grads.push_back(s->param.grad());
      m.push_back(s->exp_avg);
      v.push_back(s->exp_avg_sq);
    }
    at::_foreach_mul_(params, 1.0 - o_.lr * key.first);
    at::_foreach_mul_(m, o_.beta1);
    at::_foreach_add_(m, grads, 1.0 - o_.beta1);
    at::_foreach_mul_(v, o_.beta2);
    at::_foreach_addcmul_(v, grads, grads, 1.0 - o_.beta2);
    auto denom = at::_foreach_sqrt(v);
    at::_foreach_div_(denom, bc2_sqrt);
    at::_foreach_add_(denom, o_.eps);
    at::_foreach_addcdiv_(params, m, denom, -step_size);
  }
}

std::vector<std::pair<std::string, torch::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& s : slots_) {
    if (!s.exp_avg.defined()) continue;
    out.emplace_back("exp_avg." + s.name, s.exp_avg);
    out.emplace_back("exp_avg_sq." + s.name, s.exp_avg_sq);
  }
  return out;
}

void AdamW::load_state(int64_t step, const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  torch::NoGradGuard no_grad;
  std::unordered_map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  for (auto& s : slots_) {
    auto a = by_name.find("exp_avg." + s.name), b = by_name.find("exp_avg_sq." + s.name);
    if (a == by_name.end() || b == by_name.end()) {
      s.exp_avg = s.exp_avg_sq = torch::Tensor();
      continue;
    }
    if (a->second.sizes() != s.param.sizes() || b->second.sizes() != s.param.sizes())
      throw std::invalid_argument("optimizer state for " + s.name + " has the wrong shape");
    s.exp_avg = a->second.to(s.param.options()).clone();
    s.exp_avg_sq = b->second.to(s.param.options()).clone();
  }
  step_ = step;
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(torch::norm(p.grad().detach(), 2.0));
  if (norms.empty()) return 0.0;
  auto total = torch::norm(torch::stack(norms), 2.0);
  const double norm = total.item<double>();
  if (max_norm > 0) {
    auto coef = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
    // A coefficient of exactly 1 would leave every gradient as it is: skip the pass over them.
    if (coef.item<double>() < 1.0 || !std::isfinite(norm))
      for (const auto& p : params)
        if (p.grad().defined()) p.grad().detach().mul_(coef);
  }
  return norm;
}

}  // namespace tc
