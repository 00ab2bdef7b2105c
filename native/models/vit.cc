#include "models/vit.h"

#include <cmath>
#include "models/layers.h"

namespace tc {
namespace nn = torch::nn;

ViTConfig ViTConfig::from(const ConfigSource& s) {
  ViTConfig v;
  v.hidden_size = s.integer("hidden_size");
  v.num_hidden_layers = s.integer("num_hidden_layers");
  v.num_attention_heads = s.integer("num_attention_heads");
  v.intermediate_size = s.integer("intermediate_size");
  v.image_size = s.integer("image_size");
  v.patch_size = s.integer("patch_size");
  v.num_channels = s.integer("num_channels");
  v.layer_norm_eps = s.number("layer_norm_eps");
  v.hidden_dropout_prob = s.number("hidden_dropout_prob");
  v.attention_probs_dropout_prob = s.number("attention_probs_dropout_prob");
  v.initializer_range = s.number("initializer_range");
  v.qkv_bias = s.boolean("qkv_bias");
  v.hidden_act = s.string("hidden_act");
  return v;
}

ViTLayerImpl::ViTLayerImpl(const ViTConfig& c) : c_(c) {
  const int64_t h = c.hidden_size;
  auto attention = register_module("attention", container());
  auto self = attention->register_module("attention", container());
  query = self->register_module("query", nn::Linear(nn::LinearOptions(h, h).bias(c.qkv_bias)));
  key = self->register_module("key", nn::Linear(nn::LinearOptions(h, h).bias(c.qkv_bias)));
  value = self->register_module("value", nn::Linear(nn::LinearOptions(h, h).bias(c.qkv_bias)));
  attn_out = attention->register_module("output", container())->register_module("dense", nn::Linear(h, h));
  intermediate = register_module("intermediate", container())->register_module("dense", nn::Linear(h, c.intermediate_size));
  output = register_module("output", container())->register_module("dense", nn::Linear(c.intermediate_size, h));
  layernorm_before = register_module("layernorm_before", LayerNorm(nn::LayerNormOptions({h}).eps(c.layer_norm_eps)));
  layernorm_after = register_module("layernorm_after", LayerNorm(nn::LayerNormOptions({h}).eps(c.layer_norm_eps)));
}

torch::Tensor ViTLayerImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), H = c_.num_attention_heads, d = c_.hidden_size / H;
  auto heads = [&](const torch::Tensor& t) { return t.view({B, T, H, d}).permute({0, 2, 1, 3}); };
  auto n = layernorm_before(x);
  auto ctx = attention(heads(query(n)), heads(key(n)), heads(value(n)), {}, std::sqrt(double(d)),
                       c_.attention_probs_dropout_prob, is_training());
  ctx = ctx.permute({0, 2, 1, 3}).contiguous().view({B, T, c_.hidden_size});
  auto h = torch::dropout(attn_out(ctx), c_.hidden_dropout_prob, is_training()) + x;
  auto m = activation(intermediate(layernorm_after(h)), c_.hidden_act);
  return torch::dropout(output(m), c_.hidden_dropout_prob, is_training()) + h;
}

ViTModelImpl::ViTModelImpl(const ViTConfig& c) : c_(c) {
  const int64_t h = c.hidden_size, grid = c.image_size / c.patch_size;
  auto embeddings = register_module("embeddings", container());
  cls_token = embeddings->register_parameter("cls_token", torch::zeros({1, 1, h}));
  position_embeddings = embeddings->register_parameter("position_embeddings", torch::zeros({1, grid * grid + 1, h}));
  projection = embeddings->register_module("patch_embeddings", container())
                   ->register_module("projection", nn::Conv2d(nn::Conv2dOptions(c.num_channels, h, c.patch_size).stride(c.patch_size)));
  layers = register_module("encoder", container())->register_module("layer", nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(ViTLayer(c));
  layernorm = register_module("layernorm", LayerNorm(nn::LayerNormOptions({h}).eps(c.layer_norm_eps)));
  // The pooler is unused for captioning but HF creates it and keeps it in checkpoints: keep it so that
  // load -> save reproduces the file.
  if (c.add_pooling_layer) register_module("pooler", container())->register_module("dense", nn::Linear(h, h));
}

torch::Tensor ViTModelImpl::forward(const torch::Tensor& pixel_values) {
  check_pixel_values(pixel_values, c_.num_channels, c_.image_size);
  const int64_t B = pixel_values.size(0);
  auto x = projection(pixel_values.to(cls_token.dtype())).flatten(2).transpose(1, 2);
  x = torch::cat({cls_token.expand({B, -1, -1}), x}, 1) + position_embeddings;
  x = torch::dropout(x, c_.hidden_dropout_prob, is_training());
  for (const auto& layer : *layers) x = layer->as<ViTLayer>()->forward(x);
  return layernorm(x);
}

}  // namespace tc
