// Small building blocks shared by the model parts.
#pragma once
#include <torch/torch.h>
#include <string>

namespace tc {

// Parameter-name tests for the init and load rules of every architecture.
inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
inline bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// Activation by its Hugging Face name. "gelu" is the exact erf form; "gelu_new" the tanh form written
// out exactly as transformers computes it (so float32 results agree to the last bit or two).
torch::Tensor activation(const torch::Tensor& x, const std::string& name);

// A named container with no forward of its own: lets a module reproduce Hugging Face's nesting
// (e.g. `attention.attention.query`) so parameter names equal the checkpoint keys.
inline std::shared_ptr<torch::nn::Module> container() { return std::make_shared<torch::nn::Module>(); }

// Dot-product attention, scores divided by `divisor` (HF divides rather than multiplies), with an optional
// additive mask broadcast to [B, H, Tq, Tk]; the op order of Hugging Face's eager attention.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& additive_mask, double divisor, double dropout_p, bool training);

// Cross-attention during beam search (and sampling with num_return_sequences): the `group` sequences of one image
// share its keys and values, which the decoding cache holds once per image. Folding the group into the query rows
// ([B*g, H, T, d] -> [B, H, g*T, d]) reads each image's keys once, in one product per head, instead of once per
// beam from g repeated copies; unfold_query_groups turns the result back. The same sums per row.
int64_t query_group(const torch::Tensor& q, const torch::Tensor& k);  // q rows per k row (1 outside beams)
torch::Tensor fold_query_groups(const torch::Tensor& q, int64_t group);
torch::Tensor unfold_query_groups(const torch::Tensor& out, int64_t group);

// Stochastic depth (per sample, for [B, T, C]), as timm / HF drop_path.
torch::Tensor drop_path(const torch::Tensor& x, double p, bool training);

// Checks pixel_values [B, channels, size, size] for the patch-embedding encoders.
void check_pixel_values(const torch::Tensor& pixel_values, int64_t channels, int64_t image_size);

// torch::nn::LayerNorm that normalizes in its parameters' dtype: libtorch 1.13's CPU kernel refuses a bfloat16
// input with float32 weights, and autocast on CPU (unlike PyTorch 2.x) does not run layer_norm in float32 for it.
class LayerNormImpl : public torch::nn::LayerNormImpl {
 public:
  using torch::nn::LayerNormImpl::LayerNormImpl;
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::nn::LayerNormImpl::forward(weight.defined() && x.scalar_type() != weight.scalar_type() ? x.to(weight.scalar_type()) : x);
  }
};
TORCH_MODULE(LayerNorm);

// nn.Linear, whose decoding steps (a few rows under generate) take the one-pass kernel (models/matmul.h); the
// decoders of the BERT family (BERT, RoBERTa, GIT, BLIP) are built from it. Elsewhere it is torch's Linear.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);
class LinearImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;
  torch::Tensor forward(const torch::Tensor& x) { return linear(x, weight, bias); }
};
TORCH_MODULE(Linear);

// GPT-2's Conv1D: a linear layer whose weight is stored [in, out] (transposed vs nn.Linear).
class Conv1DImpl : public torch::nn::Module {
 public:
  Conv1DImpl(int64_t nf, int64_t nx);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
};
TORCH_MODULE(Conv1D);

}  // namespace tc
