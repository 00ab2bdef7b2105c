#include "models/deit.h"

#include "models/layers.h"

namespace tc {
namespace nn = torch::nn;

DeiTConfig DeiTConfig::from(const ConfigSource& c) {
  DeiTConfig d;
  static_cast<ViTConfig&>(d) = ViTConfig::from(c);
  return d;
}

DeiTModelImpl::DeiTModelImpl(const DeiTConfig& c) : c_(c) {
  const int64_t h = c.hidden_size, grid = c.image_size / c.patch_size;
  auto embeddings = register_module("embeddings", container());
  cls_token = embeddings->register_parameter("cls_token", torch::zeros({1, 1, h}));
  distillation_token = embeddings->register_parameter("distillation_token", torch::zeros({1, 1, h}));
  position_embeddings = embeddings->register_parameter("position_embeddings", torch::zeros({1, grid * grid + 2, h}));
  projection = embeddings->register_module("patch_embeddings", container())
                   ->register_module("projection", nn::Conv2d(nn::Conv2dOptions(c.num_channels, h, c.patch_size).stride(c.patch_size)));
  layers = register_module("encoder", container())->register_module("layer", nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(ViTLayer(c));
  layernorm = register_module("layernorm", LayerNorm(nn::LayerNormOptions({h}).eps(c.layer_norm_eps)));
  // Unused for captioning; HF's DeiTModel creates it and checkpoints carry it.
  register_module("pooler", container())->register_module("dense", nn::Linear(h, h));
}

torch::Tensor DeiTModelImpl::forward(const torch::Tensor& pixel_values) {
  check_pixel_values(pixel_values, c_.num_channels, c_.image_size);
  const int64_t B = pixel_values.size(0);
  auto x = projection(pixel_values.to(cls_token.dtype())).flatten(2).transpose(1, 2);
  x = torch::cat({cls_token.expand({B, -1, -1}), distillation_token.expand({B, -1, -1}), x}, 1) + position_embeddings;
  x = torch::dropout(x, c_.hidden_dropout_prob, is_training());
  for (const auto& layer : *layers) x = layer->as<ViTLayer>()->forward(x);
  return layernorm(x);
}

}  // namespace tc
