// Swin Transformer encoder (Hugging Face SwinModel). Names: embeddings.{patch_embeddings.projection,norm},
// encoder.layers.S.{blocks.B.{layernorm_before,attention.self.{relative_position_bias_table,
// relative_position_index,query,key,value},attention.output.dense,layernorm_after,intermediate.dense,
// output.dense},downsample.{reduction,norm}}, layernorm.
#pragma once
#include <torch/torch.h>
#include "models/config_source.h"
#include "models/parts.h"
#include "models/layers.h"

namespace tc {

// Config fields are the Hugging Face config.json keys, with no defaults of their own (the JS layer fills them).
struct SwinConfig {
  int64_t image_size{}, patch_size{}, num_channels{}, embed_dim{}, window_size{};
  std::vector<int64_t> depths, num_heads;
  double mlp_ratio{}, layer_norm_eps{}, hidden_dropout_prob{}, attention_probs_dropout_prob{}, drop_path_rate{};
  double initializer_range{};
  bool qkv_bias{};
  std::string hidden_act;
  // Width after the last stage: every patch merging doubles the channels.
  int64_t hidden_size() const { return embed_dim << (depths.size() - 1); }

  // Every field, from the complete config the JS layer built (lib/models/config.ts has the defaults).
  static SwinConfig from(const ConfigSource& c);
};

class SwinLayerImpl : public torch::nn::Module {
 public:
  SwinLayerImpl(const SwinConfig& c, int64_t dim, int64_t num_heads, int64_t shift_size, double drop_path);
  torch::Tensor forward(const torch::Tensor& x, int64_t height, int64_t width);

 private:
  torch::Tensor attention_bias() const;  // [heads, w*w, w*w] from the relative position table
  torch::Tensor shift_mask(int64_t height, int64_t width, int64_t window, int64_t shift, const torch::TensorOptions& o) const;
  SwinConfig c_;
  int64_t dim_, heads_, shift_size_;
  double drop_path_;
  torch::Tensor relative_position_bias_table, relative_position_index;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, attn_out{nullptr}, intermediate{nullptr}, output{nullptr};
  LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
};
TORCH_MODULE(SwinLayer);

class SwinPatchMergingImpl : public torch::nn::Module {
 public:
  SwinPatchMergingImpl(const SwinConfig& c, int64_t dim);
  torch::Tensor forward(const torch::Tensor& x, int64_t height, int64_t width);

 private:
  torch::nn::Linear reduction{nullptr};
  LayerNorm norm{nullptr};
};
TORCH_MODULE(SwinPatchMerging);

class SwinModelImpl : public VisionEncoderImpl {
 public:
  explicit SwinModelImpl(const SwinConfig& c);
  // pixel_values [B, C, H, W] -> last_hidden_state [B, tokens of the last stage, hidden_size]
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  int64_t hidden_size() const override { return c_.hidden_size(); }
  double initializer_range() const override { return c_.initializer_range; }

 private:
  SwinConfig c_;
  torch::nn::Conv2d projection{nullptr};
  LayerNorm embed_norm{nullptr}, layernorm{nullptr};
  std::vector<std::vector<SwinLayer>> blocks_;
  std::vector<SwinPatchMerging> downsample_;
};
TORCH_MODULE(SwinModel);

}  // namespace tc
