// CLIP's vision tower (Hugging Face CLIPVisionModel) as an image encoder. Names follow the checkpoint:
// vision_model.embeddings.{class_embedding,patch_embedding,position_embedding}, vision_model.pre_layrnorm (sic),
// vision_model.encoder.layers.N.{self_attn.{q_proj,k_proj,v_proj,out_proj},layer_norm1,mlp.{fc1,fc2},layer_norm2},
// vision_model.post_layernorm. last_hidden_state is the last layer's output: post_layernorm only normalizes the
// pooled class token, which captioning does not use (GIT's variant normalizes every token: see the config).
#pragma once
#include <torch/torch.h>

#include <string>

#include "models/config_source.h"
#include "models/parts.h"
#include "models/layers.h"

namespace tc {

// Config fields are the Hugging Face config.json keys, with no defaults of their own (the JS layer fills them).
struct CLIPVisionConfig {
  int64_t hidden_size{}, intermediate_size{}, num_hidden_layers{}, num_attention_heads{};
  int64_t image_size{}, patch_size{}, num_channels{};
  double layer_norm_eps{}, dropout{}, attention_dropout{}, initializer_range{}, initializer_factor{};
  std::string hidden_act;
  // GIT's vision tower (GitVisionModel) is CLIP's with two differences, set by models/git.cc (not config keys):
  // post_layernorm applies to every token (the image tokens GIT projects), and attention scales the q k^T
  // product rather than the queries (current HF; the same values up to rounding).
  bool post_layernorm_all_tokens = false, scale_scores = false;

  static CLIPVisionConfig from(const ConfigSource& c);
};

class CLIPEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit CLIPEncoderLayerImpl(const CLIPVisionConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  CLIPVisionConfig c_;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr}, fc1{nullptr}, fc2{nullptr};
  LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
};
TORCH_MODULE(CLIPEncoderLayer);

class CLIPVisionModelImpl : public VisionEncoderImpl {
 public:
  explicit CLIPVisionModelImpl(const CLIPVisionConfig& c);
  // pixel_values [B, C, H, W] -> last_hidden_state [B, 1 + patches, hidden]
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  int64_t hidden_size() const override { return c_.hidden_size; }
  double initializer_range() const override { return c_.initializer_range; }
  // CLIPPreTrainedModel._init_weights: stds scaled by initializer_factor and the widths.
  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override;
  // The position_ids buffer of older checkpoints.
  bool ignored_on_load(const std::string& name) const override;

 private:
  CLIPVisionConfig c_;
  torch::Tensor class_embedding;
  torch::nn::Conv2d patch_embedding{nullptr};
  torch::nn::Embedding position_embedding{nullptr};
  LayerNorm pre_layrnorm{nullptr}, post_layernorm{nullptr};
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(CLIPVisionModel);

}  // namespace tc
