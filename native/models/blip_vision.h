// BLIP's vision tower (Hugging Face BlipVisionModel). Names follow the checkpoint, under the caller's prefix
// (BlipForConditionalGeneration: vision_model.*): embeddings.{class_embedding [1, 1, D], position_embedding
// [1, 1 + patches, D] (plain parameters, not nn.Embedding), patch_embedding (with bias)},
// encoder.layers.N.{self_attn.{qkv,projection},layer_norm1,mlp.{fc1,fc2},layer_norm2}, post_layernorm.
// Pre-LN layers with no layer norm before the first; post_layernorm on every token is the last hidden state
// (image_embeds, what the text decoder cross-attends to).
#pragma once
#include <torch/torch.h>

#include <string>

#include "models/config_source.h"
#include "models/parts.h"
#include "models/layers.h"

namespace tc {

// Config fields are the Hugging Face config.json keys, with no defaults of their own (the JS layer fills them).
struct BlipVisionConfig {
  int64_t hidden_size{}, intermediate_size{}, num_hidden_layers{}, num_attention_heads{}, image_size{}, patch_size{};
  double layer_norm_eps{}, attention_dropout{}, initializer_range{};
  std::string hidden_act;

  static BlipVisionConfig from(const ConfigSource& c);
};

class BlipEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit BlipEncoderLayerImpl(const BlipVisionConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  BlipVisionConfig c_;
  // qkv: one Linear whose output rows are [q; k; v], each split into consecutive head_dim blocks.
  torch::nn::Linear qkv{nullptr}, projection{nullptr}, fc1{nullptr}, fc2{nullptr};
  LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
};
TORCH_MODULE(BlipEncoderLayer);

class BlipVisionModelImpl : public VisionEncoderImpl {
 public:
  explicit BlipVisionModelImpl(const BlipVisionConfig& c);
  // pixel_values [B, 3, H, W] -> post_layernorm(last layer) [B, 1 + patches, hidden]
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  int64_t hidden_size() const override { return c_.hidden_size; }
  double initializer_range() const override { return c_.initializer_range; }

 private:
  BlipVisionConfig c_;
  torch::Tensor class_embedding, position_embedding;
  torch::nn::Conv2d patch_embedding{nullptr};
  LayerNorm post_layernorm{nullptr};
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(BlipVisionModel);

}  // namespace tc
