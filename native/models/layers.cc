#include "models/layers.h"
#include "models/matmul.h"
#include "models/parts.h"

#include <cmath>

namespace tc {

torch::Tensor activation(const torch::Tensor& x, const std::string& name) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") {
    // transformers: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
    const double c = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + torch::tanh(c * (x + 0.044715 * torch::pow(x, 3.0))));
  }
  if (name == "relu") return torch::relu(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  if (name == "tanh") return torch::tanh(x);
  if (name == "quick_gelu") return x * torch::sigmoid(1.702 * x);  // CLIP
  throw std::invalid_argument("unsupported activation '" + name + "' (supported: gelu, gelu_new, relu, silu, tanh, quick_gelu)");
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& additive_mask, double divisor, double dropout_p, bool training) {
  // The plain path: the op order of Hugging Face's eager attention (matmul, scale, mask, softmax).
  auto scores = batched_matmul(q, k.transpose(-1, -2));
  scores = scores / divisor;
  if (additive_mask.defined()) scores = scores + additive_mask;
  auto probs = torch::softmax(scores, -1);
  if (training && dropout_p > 0) probs = torch::dropout(probs, dropout_p, true);
  return batched_matmul(probs, v);
}

int64_t query_group(const torch::Tensor& q, const torch::Tensor& k) {
  const int64_t group = q.size(0) / k.size(0);
  TORCH_CHECK(group * k.size(0) == q.size(0), "attention: ", q.size(0), " query rows for ", k.size(0), " key rows");
  return group;
}

torch::Tensor fold_query_groups(const torch::Tensor& q, int64_t group) {
  const int64_t B = q.size(0) / group, H = q.size(1), T = q.size(2), d = q.size(3);
  return q.view({B, group, H, T, d}).permute({0, 2, 1, 3, 4}).reshape({B, H, group * T, d});
}

torch::Tensor unfold_query_groups(const torch::Tensor& out, int64_t group) {
  const int64_t B = out.size(0), H = out.size(1), T = out.size(2) / group, d = out.size(3);
  return out.view({B, H, group, T, d}).permute({0, 2, 1, 3, 4}).reshape({B * group, H, T, d});
}

// Uninitialized: the captioner's init_weights (HF's rule) or a checkpoint fills it; drawing here too would cost
// a normal sample per weight on every load.
Conv1DImpl::Conv1DImpl(int64_t nf, int64_t nx) {
  weight = register_parameter("weight", torch::empty({nx, nf}));
  bias = register_parameter("bias", torch::zeros({nf}));
}

torch::Tensor Conv1DImpl::forward(const torch::Tensor& x) {
  auto shape = x.sizes().vec();
  shape.back() = weight.size(1);
  auto rows = x.reshape({-1, x.size(-1)});
  // Decoding feeds a row per sequence: the thin kernel reads the weight once for all of them.
  if (thin_gemm_applies(rows, weight)) return thin_gemm(rows, weight, bias).view(shape);
  return torch::addmm(bias, rows, weight).view(shape);
}

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (x.dim() >= 2 && x.numel() > 0) {
    auto rows = x.reshape({-1, x.size(-1)});
    if (thin_linear_applies(rows, weight)) {
      auto shape = x.sizes().vec();
      shape.back() = weight.size(0);
      return thin_linear(rows, weight, bias).view(shape);
    }
  }
  return torch::nn::functional::linear(x, weight, bias);
}

torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (p == 0.0 || !training) return x;
  auto keep = torch::empty({x.size(0), 1, 1}, x.options()).bernoulli_(1.0 - p);
  return x.div(1.0 - p) * keep;
}

void check_pixel_values(const torch::Tensor& pixel_values, int64_t channels, int64_t image_size) {
  TORCH_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == channels, "Expected pixel_values of shape [batch, ", channels,
              ", ", image_size, ", ", image_size, "] but received ", pixel_values.sizes());
  TORCH_CHECK(pixel_values.size(2) == image_size && pixel_values.size(3) == image_size, "Expected images of ", image_size, "x",
              image_size, " (the model's image_size) but received ", pixel_values.size(2), "x", pixel_values.size(3),
              "; preprocess with the model's ImageProcessor");
}

void hf_default_init(const std::string& name, torch::Tensor& cpu, double range, at::Generator& gen) {
  const bool is_norm = contains(name, "layernorm") || contains(name, "layer_norm") || contains(name, "LayerNorm") ||
                       contains(name, "ln_") || contains(name, ".norm.");
  if (is_norm) cpu.fill_(ends_with(name, ".weight") ? 1.0 : 0.0);
  else if (ends_with(name, ".bias") || ends_with(name, "relative_position_bias_table")) cpu.zero_();
  else cpu.normal_(0.0, range, gen);
}

}  // namespace tc
