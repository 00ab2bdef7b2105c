// DeiT encoder (Hugging Face DeiTModel): a ViT with a second special token. Parameter names follow the
// checkpoint: embeddings.{cls_token,distillation_token,position_embeddings,patch_embeddings.projection},
// encoder.layer.N.* (ViT's layer names), layernorm, pooler.dense. All 2 + patches tokens go to the decoder
// (the distillation token is position 1).
#pragma once
#include <torch/torch.h>

#include "models/parts.h"
#include "models/vit.h"
#include "models/layers.h"

namespace tc {

// DeiTConfig has ViTConfig's fields (config.json model_type "deit").
struct DeiTConfig : ViTConfig {
  static DeiTConfig from(const ConfigSource& c);
};

class DeiTModelImpl : public VisionEncoderImpl {
 public:
  explicit DeiTModelImpl(const DeiTConfig& c);
  // pixel_values [B, C, H, W] -> last_hidden_state [B, 2 + patches, hidden]
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  int64_t hidden_size() const override { return c_.hidden_size; }
  double initializer_range() const override { return c_.initializer_range; }

 private:
  DeiTConfig c_;
  torch::Tensor cls_token, distillation_token, position_embeddings;
  torch::nn::Conv2d projection{nullptr};
  torch::nn::ModuleList layers{nullptr};
  LayerNorm layernorm{nullptr};
};
TORCH_MODULE(DeiTModel);

}  // namespace tc
