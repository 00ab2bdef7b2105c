// AdamW with torch.optim.AdamW semantics (decoupled weight decay, bias correction, per-parameter state),
// parameter groups by name pattern (no weight decay on e.g. biases and LayerNorm weights, as the HF Trainer
// does), and global-norm gradient clipping as torch.nn.utils.clip_grad_norm_.
#pragma once
#include <torch/torch.h>
#include <string>
#include <utility>
#include <vector>

namespace tc {

// Filled by lib/optim/adamw.ts, where torch's defaults and the range checks live.
struct AdamWOptions {
  double lr{}, beta1{}, beta2{}, eps{}, weight_decay{};
  std::vector<std::string> no_decay;  // substrings of parameter names that get no weight decay
};

class AdamW {
 public:
  AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions options);
  // One update from the parameters' .grad; parameters without a gradient are skipped (as torch does).
  void step();
  void set_lr(double lr) { o_.lr = lr; }
  double lr() const { return o_.lr; }
  int64_t step_count() const { return step_; }
  // exp_avg.<name> / exp_avg_sq.<name> (float32, on the parameter's device) for checkpoints.
  std::vector<std::pair<std::string, torch::Tensor>> state() const;
  void load_state(int64_t step, const std::vector<std::pair<std::string, torch::Tensor>>& tensors);

 private:
  struct Slot {
    std::string name;
    torch::Tensor param, exp_avg, exp_avg_sq;
    double weight_decay;
  };
  std::vector<Slot> slots_;
  AdamWOptions o_;
  int64_t step_ = 0;
};

// Scales all gradients so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace tc
