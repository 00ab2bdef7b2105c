#include "models/beit.h"

#include <cmath>

#include "models/layers.h"

namespace tc {
namespace nn = torch::nn;

namespace {

LayerNorm layer_norm(const BeitConfig& c) { return LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)); }

// HF's relative_position_index for a grid x grid window plus the CLS token: patch pairs by their row and
// column offsets, and three extra rows for CLS -> patch, patch -> CLS and CLS -> CLS.
torch::Tensor relative_position_index(int64_t grid) {
  const int64_t distances = (2 * grid - 1) * (2 * grid - 1) + 3;
  auto coords = torch::stack(torch::meshgrid({torch::arange(grid), torch::arange(grid)}, "ij")).flatten(1);  // [2, N]
  auto rel = (coords.unsqueeze(2) - coords.unsqueeze(1)).permute({1, 2, 0}).contiguous();                  // [N, N, 2]
  rel.select(2, 0).add_(grid - 1).mul_(2 * grid - 1);
  rel.select(2, 1).add_(grid - 1);
  const int64_t N = grid * grid;
  auto index = torch::zeros({N + 1, N + 1}, torch::kLong);
  using torch::indexing::Slice;
  index.index_put_({Slice(1, torch::indexing::None), Slice(1, torch::indexing::None)}, rel.sum(-1));
  index.index_put_({0, Slice()}, distances - 3);
  index.index_put_({Slice(), 0}, distances - 2);
  index.index_put_({0, 0}, distances - 1);
  return index;
}

}  // namespace

BeitConfig BeitConfig::from(const ConfigSource& s) {
  BeitConfig c;
  c.hidden_size = s.integer("hidden_size");
  c.num_hidden_layers = s.integer("num_hidden_layers");
  c.num_attention_heads = s.integer("num_attention_heads");
  c.intermediate_size = s.integer("intermediate_size");
  c.image_size = s.integer("image_size");
  c.patch_size = s.integer("patch_size");
  c.num_channels = s.integer("num_channels");
  c.hidden_dropout_prob = s.number("hidden_dropout_prob");
  c.attention_probs_dropout_prob = s.number("attention_probs_dropout_prob");
  c.initializer_range = s.number("initializer_range");
  c.layer_norm_eps = s.number("layer_norm_eps");
  c.layer_scale_init_value = s.number("layer_scale_init_value");
  c.drop_path_rate = s.number("drop_path_rate");
  c.hidden_act = s.string("hidden_act");
  c.use_mask_token = s.boolean("use_mask_token");
  c.use_absolute_position_embeddings = s.boolean("use_absolute_position_embeddings");
  c.use_relative_position_bias = s.boolean("use_relative_position_bias");
  c.use_shared_relative_position_bias = s.boolean("use_shared_relative_position_bias");
  c.use_mean_pooling = s.boolean("use_mean_pooling");
  return c;
}

BeitRelativePositionBiasImpl::BeitRelativePositionBiasImpl(int64_t grid, int64_t heads) {
  table_ = register_parameter("relative_position_bias_table", torch::zeros({(2 * grid - 1) * (2 * grid - 1) + 3, heads}));
  index_ = relative_position_index(grid);
}

torch::Tensor BeitRelativePositionBiasImpl::forward() {
  // (Current HF interpolates the table to the same size first: the identity, bit for bit.)
  const int64_t n = index_.size(0);
  auto bias = table_.index_select(0, index_.view(-1).to(table_.device())).view({n, n, -1});
  return bias.permute({2, 0, 1}).contiguous();
}

BeitLayerImpl::BeitLayerImpl(const BeitConfig& c, double drop_path) : c_(c), drop_path_(drop_path) {
  const int64_t h = c.hidden_size;
  auto attention = register_module("attention", container());
  auto self = attention->register_module("attention", container());
  query = self->register_module("query", nn::Linear(h, h));
  key = self->register_module("key", nn::Linear(nn::LinearOptions(h, h).bias(false)));  // BEiT's key has no bias
  value = self->register_module("value", nn::Linear(h, h));
  if (c.use_relative_position_bias)
    relative_position_bias = self->register_module("relative_position_bias", BeitRelativePositionBias(c.image_size / c.patch_size, c.num_attention_heads));
  attn_out = attention->register_module("output", container())->register_module("dense", nn::Linear(h, h));
  intermediate = register_module("intermediate", container())->register_module("dense", nn::Linear(h, c.intermediate_size));
  output = register_module("output", container())->register_module("dense", nn::Linear(c.intermediate_size, h));
  layernorm_before = register_module("layernorm_before", layer_norm(c));
  layernorm_after = register_module("layernorm_after", layer_norm(c));
  if (c.layer_scale_init_value > 0) {
    lambda_1 = register_parameter("lambda_1", torch::full({h}, c.layer_scale_init_value));
    lambda_2 = register_parameter("lambda_2", torch::full({h}, c.layer_scale_init_value));
  }
}

torch::Tensor BeitLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& shared_bias) {
  const int64_t B = x.size(0), T = x.size(1), H = c_.num_attention_heads, d = c_.hidden_size / H;
  auto heads = [&](const torch::Tensor& t) { return t.view({B, T, H, d}).permute({0, 2, 1, 3}); };
  auto n = layernorm_before(x);
  torch::Tensor bias;
  if (relative_position_bias) bias = relative_position_bias->forward().unsqueeze(0);
  if (shared_bias.defined()) bias = bias.defined() ? bias + shared_bias : shared_bias;
  auto ctx = attention(heads(query(n)), heads(key(n)), heads(value(n)), bias, std::sqrt(double(d)),
                       c_.attention_probs_dropout_prob, is_training());
  ctx = ctx.permute({0, 2, 1, 3}).contiguous().view({B, T, c_.hidden_size});
  auto a = torch::dropout(attn_out(ctx), c_.hidden_dropout_prob, is_training());
  if (lambda_1.defined()) a = lambda_1 * a;
  auto h = drop_path(a, drop_path_, is_training()) + x;
  auto m = torch::dropout(output(activation(intermediate(layernorm_after(h)), c_.hidden_act)), c_.hidden_dropout_prob, is_training());
  if (lambda_2.defined()) m = lambda_2 * m;
  return drop_path(m, drop_path_, is_training()) + h;
}

BeitModelImpl::BeitModelImpl(const BeitConfig& c) : c_(c) {
  const int64_t h = c.hidden_size, grid = c.image_size / c.patch_size;
  auto embeddings = register_module("embeddings", container());
  cls_token = embeddings->register_parameter("cls_token", torch::zeros({1, 1, h}));
  if (c.use_mask_token) embeddings->register_parameter("mask_token", torch::zeros({1, 1, h}));  // masked image modeling only
  projection = embeddings->register_module("patch_embeddings", container())
                   ->register_module("projection", nn::Conv2d(nn::Conv2dOptions(c.num_channels, h, c.patch_size).stride(c.patch_size)));
  if (c.use_absolute_position_embeddings)
    position_embeddings = embeddings->register_parameter("position_embeddings", torch::zeros({1, grid * grid + 1, h}));
  auto encoder = register_module("encoder", container());
  if (c.use_shared_relative_position_bias)
    shared_bias = encoder->register_module("relative_position_bias", BeitRelativePositionBias(grid, c.num_attention_heads));
  layers = encoder->register_module("layer", nn::ModuleList());
  // Stochastic depth rises linearly over the layers, as torch.linspace(0, drop_path_rate, layers).
  auto rates = torch::linspace(0.0, c.drop_path_rate, c.num_hidden_layers, torch::kFloat64);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(BeitLayer(c, rates[i].item<double>()));
  if (c.use_mean_pooling) register_module("pooler", container())->register_module("layernorm", layer_norm(c));  // pooler_output only
  else layernorm = register_module("layernorm", layer_norm(c));
}

torch::Tensor BeitModelImpl::forward(const torch::Tensor& pixel_values) {
  check_pixel_values(pixel_values, c_.num_channels, c_.image_size);
  const int64_t B = pixel_values.size(0);
  auto x = projection(pixel_values.to(cls_token.dtype())).flatten(2).transpose(1, 2);
  x = torch::cat({cls_token.expand({B, -1, -1}), x}, 1);
  if (position_embeddings.defined()) x = x + position_embeddings;
  x = torch::dropout(x, c_.hidden_dropout_prob, is_training());
  torch::Tensor shared;
  if (shared_bias) shared = shared_bias->forward().unsqueeze(0);
  for (const auto& layer : *layers) x = layer->as<BeitLayer>()->forward(x, shared);
  return layernorm ? layernorm(x) : x;
}

void BeitModelImpl::init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
  if (ends_with(name, "lambda_1") || ends_with(name, "lambda_2")) cpu.fill_(c_.layer_scale_init_value);
  else if (ends_with(name, "cls_token") || ends_with(name, "mask_token") || ends_with(name, "position_embeddings")) cpu.zero_();
  else hf_default_init(name, cpu, c_.initializer_range, gen);
}

bool BeitModelImpl::ignored_on_load(const std::string& name) const { return ends_with(name, "relative_position_index"); }

}  // namespace tc
