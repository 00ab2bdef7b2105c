#include "optim/adamw.h"

#include <cmath>
#include <stdexcept>

namespace tc {

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
  for (auto& s : slots_) {
    const torch::Tensor& grad = s.param.grad();
    if (!grad.defined()) continue;
    if (!s.exp_avg.defined()) {
      s.exp_avg = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
      s.exp_avg_sq = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
    }
    // The exact op sequence of torch 1.13's single-tensor AdamW, so results agree bit for bit.
    s.param.mul_(1.0 - o_.lr * s.weight_decay);
    s.exp_avg.mul_(o_.beta1).add_(grad, 1.0 - o_.beta1);
    s.exp_avg_sq.mul_(o_.beta2).addcmul_(grad, grad, 1.0 - o_.beta2);
    auto denom = (s.exp_avg_sq.sqrt() / bc2_sqrt).add_(o_.eps);
    s.param.addcdiv_(s.exp_avg, denom, -step_size);
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
  if (max_norm > 0) {
    auto coef = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().detach().mul_(coef);
  }
  return total.item<double>();
}

}  // namespace tc
