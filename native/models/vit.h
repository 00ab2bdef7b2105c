// ViT encoder (Hugging Face ViTModel). Parameter names follow the checkpoint:
// embeddings.{cls_token,position_embeddings,patch_embeddings.projection}, encoder.layer.N.{attention.attention.
// {query,key,value}, attention.output.dense, intermediate.dense, output.dense, layernorm_before, layernorm_after},
// layernorm, pooler.dense.
#pragma once
#include <torch/torch.h>
#include "models/config_source.h"
#include "models/parts.h"
#include "models/layers.h"

namespace tc {

// Config fields are the Hugging Face config.json keys, with no defaults of their own (the JS layer fills them).
struct ViTConfig {
  int64_t hidden_size{}, num_hidden_layers{}, num_attention_heads{}, intermediate_size{};
  int64_t image_size{}, patch_size{}, num_channels{};
  double layer_norm_eps{}, hidden_dropout_prob{}, attention_probs_dropout_prob{}, initializer_range{};
  bool qkv_bias{};
  std::string hidden_act;
  // HF's ViTModel always builds its (unused) pooler inside a VisionEncoderDecoderModel: an architecture
  // fact, not a config.json field.
  static constexpr bool add_pooling_layer = true;

  // Every field, from the complete config the JS layer built (lib/models/config.ts has the defaults).
  static ViTConfig from(const ConfigSource& c);
};

class ViTLayerImpl : public torch::nn::Module {
 public:
  explicit ViTLayerImpl(const ViTConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ViTConfig c_;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, attn_out{nullptr}, intermediate{nullptr}, output{nullptr};
  LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
};
TORCH_MODULE(ViTLayer);

class ViTModelImpl : public VisionEncoderImpl {
 public:
  explicit ViTModelImpl(const ViTConfig& c);
  // pixel_values [B, C, H, W] -> last_hidden_state [B, 1 + patches, hidden]
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  int64_t hidden_size() const override { return c_.hidden_size; }
  double initializer_range() const override { return c_.initializer_range; }

 private:
  ViTConfig c_;
  torch::Tensor cls_token, position_embeddings;
  torch::nn::Conv2d projection{nullptr};
  torch::nn::ModuleList layers{nullptr};
  LayerNorm layernorm{nullptr};
};
TORCH_MODULE(ViTModel);

}  // namespace tc
