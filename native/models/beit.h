// BEiT encoder (Hugging Face BeitModel). Names follow the classic checkpoints: embeddings.{cls_token,mask_token,
// position_embeddings,patch_embeddings.projection}, encoder.layer.N.{attention.attention.{query,key,value,
// relative_position_bias.relative_position_bias_table},attention.output.dense,intermediate.dense,output.dense,
// layernorm_before,layernorm_after,lambda_1,lambda_2}, encoder.relative_position_bias.* (shared), layernorm or
// pooler.layernorm. With use_mean_pooling, last_hidden_state is the last layer's raw output.
#pragma once
#include <torch/torch.h>

#include <string>

#include "models/config_source.h"
#include "models/parts.h"
#include "models/layers.h"

namespace tc {

// Config fields are the Hugging Face config.json keys, with no defaults of their own (the JS layer fills them).
struct BeitConfig {
  int64_t hidden_size{}, num_hidden_layers{}, num_attention_heads{}, intermediate_size{};
  int64_t image_size{}, patch_size{}, num_channels{};
  double hidden_dropout_prob{}, attention_probs_dropout_prob{}, initializer_range{}, layer_norm_eps{};
  double layer_scale_init_value{}, drop_path_rate{};
  std::string hidden_act;
  bool use_mask_token{}, use_absolute_position_embeddings{}, use_relative_position_bias{};
  bool use_shared_relative_position_bias{}, use_mean_pooling{};

  static BeitConfig from(const ConfigSource& c);
};

// The learned bias of one window: table [(2W-1)^2 + 3, heads] read through a fixed index ([1+N, 1+N]).
class BeitRelativePositionBiasImpl : public torch::nn::Module {
 public:
  BeitRelativePositionBiasImpl(int64_t grid, int64_t heads);
  torch::Tensor forward();  // [heads, 1+N, 1+N]

 private:
  torch::Tensor table_, index_;  // index_ stays on the CPU: it is not state, and not saved
};
TORCH_MODULE(BeitRelativePositionBias);

class BeitLayerImpl : public torch::nn::Module {
 public:
  BeitLayerImpl(const BeitConfig& c, double drop_path);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& shared_bias);

 private:
  BeitConfig c_;
  double drop_path_;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, attn_out{nullptr}, intermediate{nullptr}, output{nullptr};
  BeitRelativePositionBias relative_position_bias{nullptr};
  LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
  torch::Tensor lambda_1, lambda_2;
};
TORCH_MODULE(BeitLayer);

class BeitModelImpl : public VisionEncoderImpl {
 public:
  explicit BeitModelImpl(const BeitConfig& c);
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  int64_t hidden_size() const override { return c_.hidden_size; }
  double initializer_range() const override { return c_.initializer_range; }
  // Layer scales start at layer_scale_init_value; tokens and tables at zero.
  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override;
  // The relative_position_index buffers older checkpoints stored.
  bool ignored_on_load(const std::string& name) const override;

 private:
  BeitConfig c_;
  torch::Tensor cls_token, position_embeddings;
  torch::nn::Conv2d projection{nullptr};
  torch::nn::ModuleList layers{nullptr};
  BeitRelativePositionBias shared_bias{nullptr};
  LayerNorm layernorm{nullptr};  // null with use_mean_pooling (an Identity in HF)
};
TORCH_MODULE(BeitModel);

}  // namespace tc
