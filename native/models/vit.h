// ViT encoder (Hugging Face ViTModel). Parameter names follow the checkpoint:
// embeddings.{cls_token,position_embeddings,patch_embeddings.projection}, encoder.layer.N.{attention.attention.
// {query,key,value}, attention.output.dense, intermediate.dense, output.dense, layernorm_before, layernorm_after},
// layernorm, pooler.dense.
#pragma once
#include <torch/torch.h>
#include "models/config.h"

namespace tc {

class ViTLayerImpl : public torch::nn::Module {
 public:
  explicit ViTLayerImpl(const ViTConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ViTConfig c_;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, attn_out{nullptr}, intermediate{nullptr}, output{nullptr};
  torch::nn::LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
};
TORCH_MODULE(ViTLayer);

class ViTModelImpl : public torch::nn::Module {
 public:
  explicit ViTModelImpl(const ViTConfig& c);
  // pixel_values [B, C, H, W] -> last_hidden_state [B, 1 + patches, hidden]
  torch::Tensor forward(const torch::Tensor& pixel_values);

 private:
  ViTConfig c_;
  torch::Tensor cls_token, position_embeddings;
  torch::nn::Conv2d projection{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm layernorm{nullptr};
};
TORCH_MODULE(ViTModel);

}  // namespace tc
