#include "models/blip_vision.h"

#include <cmath>

#include "models/layers.h"
#include "models/matmul.h"

namespace tc {
namespace nn = torch::nn;

namespace {

LayerNorm layer_norm(const BlipVisionConfig& c) { return LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)); }

}  // namespace

BlipVisionConfig BlipVisionConfig::from(const ConfigSource& s) {
  BlipVisionConfig c;
  c.hidden_size = s.integer("hidden_size");
  c.intermediate_size = s.integer("intermediate_size");
  c.num_hidden_layers = s.integer("num_hidden_layers");
  c.num_attention_heads = s.integer("num_attention_heads");
  c.image_size = s.integer("image_size");
  c.patch_size = s.integer("patch_size");
  c.layer_norm_eps = s.number("layer_norm_eps");
  c.attention_dropout = s.number("attention_dropout");
  c.initializer_range = s.number("initializer_range");
  c.hidden_act = s.string("hidden_act");
  return c;
}

BlipEncoderLayerImpl::BlipEncoderLayerImpl(const BlipVisionConfig& c) : c_(c) {
  const int64_t h = c.hidden_size;
  auto attn = register_module("self_attn", container());
  qkv = attn->register_module("qkv", nn::Linear(h, 3 * h));
  projection = attn->register_module("projection", nn::Linear(h, h));
  layer_norm1 = register_module("layer_norm1", layer_norm(c));
  auto mlp = register_module("mlp", container());
  fc1 = mlp->register_module("fc1", nn::Linear(h, c.intermediate_size));
  fc2 = mlp->register_module("fc2", nn::Linear(c.intermediate_size, h));
  layer_norm2 = register_module("layer_norm2", layer_norm(c));
}

torch::Tensor BlipEncoderLayerImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), H = c_.num_attention_heads, d = c_.hidden_size / H;
  // [B, T, 3D] -> (T, 3, heads, d) per row -> [3, B, heads, T, d]
  auto parts = qkv(layer_norm1(x)).view({B, T, 3, H, d}).permute({2, 0, 3, 1, 4});
  auto scores = batched_matmul(parts[0], parts[1].transpose(-1, -2)) * std::pow(double(d), -0.5);
  auto w = torch::dropout(torch::softmax(scores, -1), c_.attention_dropout, is_training());
  auto ctx = batched_matmul(w, parts[2]).permute({0, 2, 1, 3}).reshape({B, T, c_.hidden_size});
  auto h = x + projection(ctx);
  return h + fc2(activation(fc1(layer_norm2(h)), c_.hidden_act));
}

BlipVisionModelImpl::BlipVisionModelImpl(const BlipVisionConfig& c) : c_(c) {
  const int64_t h = c.hidden_size, grid = c.image_size / c.patch_size;
  auto embeddings = register_module("embeddings", container());
  class_embedding = embeddings->register_parameter("class_embedding", torch::zeros({1, 1, h}));
  patch_embedding = embeddings->register_module("patch_embedding", nn::Conv2d(nn::Conv2dOptions(3, h, c.patch_size).stride(c.patch_size)));
  position_embedding = embeddings->register_parameter("position_embedding", torch::zeros({1, grid * grid + 1, h}));
  layers = register_module("encoder", container())->register_module("layers", nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(BlipEncoderLayer(c));
  post_layernorm = register_module("post_layernorm", layer_norm(c));
}

torch::Tensor BlipVisionModelImpl::forward(const torch::Tensor& pixel_values) {
  check_pixel_values(pixel_values, 3, c_.image_size);
  const int64_t B = pixel_values.size(0);
  auto patches = patch_embedding(pixel_values.to(class_embedding.dtype())).flatten(2).transpose(1, 2);
  auto x = torch::cat({class_embedding.expand({B, 1, -1}), patches}, 1) + position_embedding;
  for (const auto& layer : *layers) x = layer->as<BlipEncoderLayer>()->forward(x);
  return post_layernorm(x);
}

}  // namespace tc
