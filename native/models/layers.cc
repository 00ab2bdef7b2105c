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
  // Decoding feeds 1-4 rows (one token per beam): BLAS gemm on such thin operands is 4-8x slower than
  // one gemv per row here (thread start-up and packing dominate), so inference takes the gemv path.
  if (!torch::GradMode::is_enabled() && rows.size(0) <= 4 && rows.device().is_cpu()) {
    std::vector<torch::Tensor> out;
    for (int64_t r = 0; r < rows.size(0); ++r) out.push_back(torch::addmv(bias, weight.t(), rows[r]));
    return torch::stack(out).view(shape);
  }
  return torch::addmm(bias, rows, weight).view(shape);
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
