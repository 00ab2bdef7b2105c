#pragma once
// Automatic mixed precision for the train step, as torch.autocast + torch.amp.GradScaler do it:
// the forward pass runs its matrix products in bfloat16 or float16 while weights, gradients and the
// optimizer state stay float32; float16 adds dynamic loss scaling (the scale itself is kept by the
// caller, lib/train/grad-scaler.ts, so it is saved with the checkpoint).

#include <torch/torch.h>
#include <optional>
#include <string>
#include <vector>

namespace tc {

// "bfloat16" | "float16" -> dtype; "" -> none. The JS layer (lib/models/vision-encoder-decoder.ts)
// validates the choice and the device; these are the invariant checks behind it.
std::optional<torch::ScalarType> parse_autocast_dtype(const std::string& name);
void check_autocast_supported(torch::ScalarType dtype, const torch::Device& device);

// Turns autocast on for one device type for its lifetime and restores the previous state after,
// also when the step throws. With no dtype it does nothing.
class AutocastGuard {
 public:
  AutocastGuard(std::optional<torch::ScalarType> dtype, torch::DeviceType device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool on_ = false;
  torch::DeviceType device_;
  bool prev_enabled_ = false;
  torch::ScalarType prev_dtype_ = torch::kFloat;
};

// GradScaler.unscale_: multiplies every gradient by 1/scale (exact for the power-of-two scales
// the scaler uses). Whether an inf/NaN appeared is read from the global norm that clipping computes.
void unscale_grads(const std::vector<torch::Tensor>& params, double scale);

}  // namespace tc
