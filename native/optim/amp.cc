#include "optim/amp.h"

#include <stdexcept>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// libtorch 2.4 replaced the per-backend autocast setters with ones that take the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define TC_AUTOCAST_BY_DEVICE 1
#endif

namespace tc {
namespace {

bool autocast_enabled(torch::DeviceType d) {
#ifdef TC_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(d);
#else
  return d == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

torch::ScalarType autocast_dtype(torch::DeviceType d) {
#ifdef TC_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(d);
#else
  return d == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast(torch::DeviceType d, bool enabled, torch::ScalarType dtype) {
#ifdef TC_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(d, dtype);
  at::autocast::set_autocast_enabled(d, enabled);
#else
  if (d == torch::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

}  // namespace

std::optional<torch::ScalarType> parse_autocast_dtype(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name == "bfloat16") return torch::kBFloat16;
  TORCH_CHECK(name == "float16", "autocast dtype '", name, "' (lib/train validates it)");
  return torch::kHalf;
}

void check_autocast_supported(torch::ScalarType dtype, const torch::Device& device) {
  // CPU autocast in libtorch 1.x knows only bfloat16.
  TORCH_CHECK(device.is_cuda() || (device.is_cpu() && dtype != torch::kHalf), "autocast to ", dtype, " on ", device.str(),
              " (the JS layer checks the device first)");
}

AutocastGuard::AutocastGuard(std::optional<torch::ScalarType> dtype, torch::DeviceType device) : device_(device) {
  if (!dtype) return;
  prev_enabled_ = autocast_enabled(device);
  prev_dtype_ = autocast_dtype(device);
  set_autocast(device, true, *dtype);
  on_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!on_) return;
  set_autocast(device_, prev_enabled_, prev_dtype_);
  // The cast cache holds low-precision copies of the weights: they are stale after the optimizer step.
  if (!prev_enabled_) at::autocast::clear_cache();
}

void unscale_grads(const std::vector<torch::Tensor>& params, double scale) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (!grads.empty()) at::_foreach_mul_(grads, 1.0 / scale);
}

}  // namespace tc
