#include "models/clip_vision.h"

#include <cmath>

#include "models/layers.h"
#include "models/matmul.h"

namespace tc {
namespace nn = torch::nn;

namespace {

LayerNorm layer_norm(const CLIPVisionConfig& c) { return LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)); }

}  // namespace

CLIPVisionConfig CLIPVisionConfig::from(const ConfigSource& s) {
  CLIPVisionConfig c;
  c.hidden_size = s.integer("hidden_size");
  c.intermediate_size = s.integer("intermediate_size");
  c.num_hidden_layers = s.integer("num_hidden_layers");
  c.num_attention_heads = s.integer("num_attention_heads");
  c.image_size = s.integer("image_size");
  c.patch_size = s.integer("patch_size");
  c.num_channels = s.integer("num_channels");
  c.layer_norm_eps = s.number("layer_norm_eps");
  c.dropout = s.number("dropout");
  c.attention_dropout = s.number("attention_dropout");
  c.initializer_range = s.number("initializer_range");
  c.initializer_factor = s.number("initializer_factor");
  c.hidden_act = s.string("hidden_act");
  return c;
}

CLIPEncoderLayerImpl::CLIPEncoderLayerImpl(const CLIPVisionConfig& c) : c_(c) {
  const int64_t h = c.hidden_size;
  auto attn = register_module("self_attn", container());
  k_proj = attn->register_module("k_proj", nn::Linear(h, h));
  v_proj = attn->register_module("v_proj", nn::Linear(h, h));
  q_proj = attn->register_module("q_proj", nn::Linear(h, h));
  out_proj = attn->register_module("out_proj", nn::Linear(h, h));
  layer_norm1 = register_module("layer_norm1", layer_norm(c));
  auto mlp = register_module("mlp", container());
  fc1 = mlp->register_module("fc1", nn::Linear(h, c.intermediate_size));
  fc2 = mlp->register_module("fc2", nn::Linear(c.intermediate_size, h));
  layer_norm2 = register_module("layer_norm2", layer_norm(c));
}

torch::Tensor CLIPEncoderLayerImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), H = c_.num_attention_heads, d = c_.hidden_size / H;
  auto heads = [&](const torch::Tensor& t) { return t.view({B, T, H, d}).transpose(1, 2); };
  auto n = layer_norm1(x);
  // 4.9's CLIPAttention scales the queries before the product; GIT's scales the product. Then a plain softmax.
  const double scale = std::pow(double(d), -0.5);
  auto q = c_.scale_scores ? heads(q_proj(n)) : heads(q_proj(n) * scale);
  auto scores = batched_matmul(q, heads(k_proj(n)).transpose(-1, -2));
  if (c_.scale_scores) scores = scores * scale;
  auto w = torch::softmax(scores, -1);
  w = torch::dropout(w, c_.attention_dropout, is_training());
  auto ctx = batched_matmul(w, heads(v_proj(n))).transpose(1, 2).reshape({B, T, c_.hidden_size});
  auto h = x + out_proj(ctx);
  return h + fc2(activation(fc1(layer_norm2(h)), c_.hidden_act));
}

CLIPVisionModelImpl::CLIPVisionModelImpl(const CLIPVisionConfig& c) : c_(c) {
  const int64_t h = c.hidden_size, grid = c.image_size / c.patch_size;
  auto vision_model = register_module("vision_model", container());
  auto embeddings = vision_model->register_module("embeddings", container());
  class_embedding = embeddings->register_parameter("class_embedding", torch::zeros({h}));
  patch_embedding = embeddings->register_module(
      "patch_embedding", nn::Conv2d(nn::Conv2dOptions(c.num_channels, h, c.patch_size).stride(c.patch_size).bias(false)));
  position_embedding = embeddings->register_module("position_embedding", nn::Embedding(grid * grid + 1, h));
  pre_layrnorm = vision_model->register_module("pre_layrnorm", layer_norm(c));
  layers = vision_model->register_module("encoder", container())->register_module("layers", nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(CLIPEncoderLayer(c));
  // CLIP: unused for captioning (it normalizes the pooled class token), but checkpoints carry it.
  post_layernorm = vision_model->register_module("post_layernorm", layer_norm(c));
}

torch::Tensor CLIPVisionModelImpl::forward(const torch::Tensor& pixel_values) {
  check_pixel_values(pixel_values, c_.num_channels, c_.image_size);
  const int64_t B = pixel_values.size(0);
  auto patches = patch_embedding(pixel_values.to(class_embedding.dtype())).flatten(2).transpose(1, 2);
  auto x = torch::cat({class_embedding.expand({B, 1, -1}), patches}, 1) + position_embedding->weight.unsqueeze(0);
  x = pre_layrnorm(x);
  for (const auto& layer : *layers) x = layer->as<CLIPEncoderLayer>()->forward(x);
  return c_.post_layernorm_all_tokens ? post_layernorm(x) : x;
}

void CLIPVisionModelImpl::init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
  const double f = c_.initializer_factor, h = double(c_.hidden_size), layers = double(c_.num_hidden_layers);
  if (contains(name, "layer_norm") || contains(name, "layrnorm") || contains(name, "layernorm")) {
    cpu.fill_(ends_with(name, ".weight") ? 1.0 : 0.0);
  } else if (ends_with(name, ".bias")) {
    cpu.zero_();
  } else if (ends_with(name, "class_embedding")) {
    cpu.normal_(0.0, std::pow(h, -0.5) * f, gen);
  } else if (ends_with(name, "patch_embedding.weight") || ends_with(name, "position_embedding.weight")) {
    cpu.normal_(0.0, c_.initializer_range * f, gen);
  } else if (contains(name, "self_attn.out_proj")) {
    cpu.normal_(0.0, std::pow(h, -0.5) * f, gen);
  } else if (contains(name, "self_attn.") || contains(name, "mlp.fc2")) {
    cpu.normal_(0.0, std::pow(h, -0.5) * std::pow(2.0 * layers, -0.5) * f, gen);
  } else if (contains(name, "mlp.fc1")) {
    cpu.normal_(0.0, std::pow(2.0 * h, -0.5) * f, gen);
  } else {
    cpu.normal_(0.0, c_.initializer_range, gen);
  }
}

bool CLIPVisionModelImpl::ignored_on_load(const std::string& name) const { return ends_with(name, "embeddings.position_ids"); }

}  // namespace tc
