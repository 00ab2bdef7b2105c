#include "models/swin.h"

#include <cmath>
#include "models/layers.h"
#include "models/matmul.h"

namespace tc {

SwinConfig SwinConfig::from(const ConfigSource& c) {
  SwinConfig s;
  s.image_size = c.integer("image_size");
  s.patch_size = c.integer("patch_size");
  s.num_channels = c.integer("num_channels");
  s.embed_dim = c.integer("embed_dim");
  s.window_size = c.integer("window_size");
  s.depths = c.integers("depths");
  s.num_heads = c.integers("num_heads");
  s.mlp_ratio = c.number("mlp_ratio");
  s.layer_norm_eps = c.number("layer_norm_eps");
  s.hidden_dropout_prob = c.number("hidden_dropout_prob");
  s.attention_probs_dropout_prob = c.number("attention_probs_dropout_prob");
  s.drop_path_rate = c.number("drop_path_rate");
  s.initializer_range = c.number("initializer_range");
  s.qkv_bias = c.boolean("qkv_bias");
  s.hidden_act = c.string("hidden_act");
  return s;
}
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

// [B, H, W, C] -> [B * windows, w, w, C]
torch::Tensor window_partition(const torch::Tensor& x, int64_t w) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  return x.view({B, H / w, w, W / w, w, C}).permute({0, 1, 3, 2, 4, 5}).contiguous().view({-1, w, w, C});
}

// [B * windows, w, w, C] -> [B, H, W, C]
torch::Tensor window_reverse(const torch::Tensor& windows, int64_t w, int64_t H, int64_t W) {
  const int64_t C = windows.size(-1);
  return windows.view({-1, H / w, W / w, w, w, C}).permute({0, 1, 3, 2, 4, 5}).contiguous().view({-1, H, W, C});
}

torch::Tensor relative_index(int64_t w) {
  auto coords = torch::stack(torch::meshgrid({torch::arange(w), torch::arange(w)}, "ij")).flatten(1);  // [2, w*w]
  auto rel = (coords.unsqueeze(2) - coords.unsqueeze(1)).permute({1, 2, 0}).contiguous();            // [w*w, w*w, 2]
  rel.select(2, 0).add_(w - 1).mul_(2 * w - 1);
  rel.select(2, 1).add_(w - 1);
  return rel.sum(-1);
}

}  // namespace

SwinLayerImpl::SwinLayerImpl(const SwinConfig& c, int64_t dim, int64_t num_heads, int64_t shift_size, double dp)
    : c_(c), dim_(dim), heads_(num_heads), shift_size_(shift_size), drop_path_(dp) {
  const int64_t w = c.window_size;
  layernorm_before = register_module("layernorm_before", LayerNorm(nn::LayerNormOptions({dim}).eps(c.layer_norm_eps)));
  auto attention = register_module("attention", container());
  auto self = attention->register_module("self", container());
  relative_position_bias_table = self->register_parameter("relative_position_bias_table", torch::zeros({(2 * w - 1) * (2 * w - 1), num_heads}));
  relative_position_index = self->register_buffer("relative_position_index", relative_index(w));
  query = self->register_module("query", nn::Linear(nn::LinearOptions(dim, dim).bias(c.qkv_bias)));
  key = self->register_module("key", nn::Linear(nn::LinearOptions(dim, dim).bias(c.qkv_bias)));
  value = self->register_module("value", nn::Linear(nn::LinearOptions(dim, dim).bias(c.qkv_bias)));
  attn_out = attention->register_module("output", container())->register_module("dense", nn::Linear(dim, dim));
  layernorm_after = register_module("layernorm_after", LayerNorm(nn::LayerNormOptions({dim}).eps(c.layer_norm_eps)));
  const int64_t hidden = int64_t(c.mlp_ratio * dim);
  intermediate = register_module("intermediate", container())->register_module("dense", nn::Linear(dim, hidden));
  output = register_module("output", container())->register_module("dense", nn::Linear(hidden, dim));
}

torch::Tensor SwinLayerImpl::attention_bias() const {
  const int64_t n = relative_position_index.size(0);
  return relative_position_bias_table.index_select(0, relative_position_index.view(-1))
      .view({n, n, -1}).permute({2, 0, 1}).contiguous();
}

torch::Tensor SwinLayerImpl::shift_mask(int64_t H, int64_t W, int64_t w, int64_t s, const torch::TensorOptions& o) const {
  // Label the regions that the cyclic shift brings together; tokens of different regions may not attend
  // to each other (-100 added to their scores, as HF does).
  auto img = torch::zeros({1, H, W, 1}, o);
  const int64_t bounds_h[4] = {0, H - w, H - s, H}, bounds_w[4] = {0, W - w, W - s, W};
  int64_t count = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j, ++count)
      img.slice(1, bounds_h[i], bounds_h[i + 1]).slice(2, bounds_w[j], bounds_w[j + 1]).fill_(double(count));
  auto mw = window_partition(img, w).view({-1, w * w});
  auto mask = mw.unsqueeze(1) - mw.unsqueeze(2);
  return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0);
}

torch::Tensor SwinLayerImpl::forward(const torch::Tensor& x, int64_t height, int64_t width) {
  // HF's set_shift_and_window_size: a stage no larger than the window attends over the whole map, unshifted.
  int64_t w = c_.window_size, shift = shift_size_;
  if (std::min(height, width) <= w) {
    shift = 0;
    w = std::min(height, width);
  }
  TORCH_CHECK(w * w == relative_position_index.size(0), "Swin: a feature map of ", height, "x", width,
              " is smaller than window_size ", c_.window_size,
              " (transformers fails here too); use a larger image_size or a smaller window_size");
  const int64_t B = x.size(0), C = x.size(2);
  auto h = layernorm_before(x).view({B, height, width, C});
  const int64_t pad_r = (w - width % w) % w, pad_b = (w - height % w) % w;
  if (pad_r || pad_b) h = F::pad(h, F::PadFuncOptions({0, 0, 0, pad_r, 0, pad_b}));
  const int64_t Hp = h.size(1), Wp = h.size(2);
  if (shift > 0) h = torch::roll(h, {-shift, -shift}, {1, 2});
  auto windows = window_partition(h, w).view({-1, w * w, C});

  const int64_t nW = windows.size(0), N = w * w, d = C / heads_;
  auto heads = [&](const torch::Tensor& t) { return t.view({nW, N, heads_, d}).permute({0, 2, 1, 3}); };
  auto scores = batched_matmul(heads(query(windows)), heads(key(windows)).transpose(-1, -2)) / std::sqrt(double(d));
  scores = scores + attention_bias().unsqueeze(0);
  if (shift > 0) {
    auto mask = shift_mask(Hp, Wp, w, shift, scores.options());  // [windows per image, N, N]
    const int64_t per = mask.size(0);
    scores = (scores.view({nW / per, per, heads_, N, N}) + mask.unsqueeze(1).unsqueeze(0)).view({-1, heads_, N, N});
  }
  auto probs = torch::dropout(torch::softmax(scores, -1), c_.attention_probs_dropout_prob, is_training());
  auto ctx = batched_matmul(probs, heads(value(windows))).permute({0, 2, 1, 3}).contiguous().view({nW, N, C});
  ctx = torch::dropout(attn_out(ctx), c_.hidden_dropout_prob, is_training());

  auto merged = window_reverse(ctx.view({-1, w, w, C}), w, Hp, Wp);
  if (shift > 0) merged = torch::roll(merged, {shift, shift}, {1, 2});
  if (pad_r || pad_b) merged = merged.slice(1, 0, height).slice(2, 0, width).contiguous();
  auto hs = x + drop_path(merged.view({B, height * width, C}), drop_path_, is_training());
  auto m = output(activation(intermediate(layernorm_after(hs)), c_.hidden_act));
  // HF applies drop_path to the attention branch only, not to the MLP branch.
  return hs + torch::dropout(m, c_.hidden_dropout_prob, is_training());
}

SwinPatchMergingImpl::SwinPatchMergingImpl(const SwinConfig& c, int64_t dim) {
  reduction = register_module("reduction", nn::Linear(nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
  norm = register_module("norm", LayerNorm(nn::LayerNormOptions({4 * dim}).eps(c.layer_norm_eps)));
}

torch::Tensor SwinPatchMergingImpl::forward(const torch::Tensor& x, int64_t height, int64_t width) {
  const int64_t B = x.size(0), C = x.size(2);
  auto h = x.view({B, height, width, C});
  if (height % 2 || width % 2) h = F::pad(h, F::PadFuncOptions({0, 0, 0, width % 2, 0, height % 2}));
  // Order of the four sub-grids as HF concatenates them: (0,0), (1,0), (0,1), (1,1).
  using torch::indexing::Slice;
  auto g = [&](int64_t r, int64_t c) { return h.index({Slice(), Slice(r, torch::indexing::None, 2), Slice(c, torch::indexing::None, 2), Slice()}); };
  h = torch::cat({g(0, 0), g(1, 0), g(0, 1), g(1, 1)}, -1).view({B, -1, 4 * C});
  return reduction(norm(h));
}

SwinModelImpl::SwinModelImpl(const SwinConfig& c) : c_(c) {
  auto embeddings = register_module("embeddings", container());
  projection = embeddings->register_module("patch_embeddings", container())
                   ->register_module("projection", nn::Conv2d(nn::Conv2dOptions(c.num_channels, c.embed_dim, c.patch_size).stride(c.patch_size)));
  embed_norm = embeddings->register_module("norm", LayerNorm(nn::LayerNormOptions({c.embed_dim}).eps(c.layer_norm_eps)));
  auto stages = register_module("encoder", container())->register_module("layers", nn::ModuleList());
  int64_t total = 0;
  for (auto d : c.depths) total += d;
  int64_t block_index = 0;
  for (size_t s = 0; s < c.depths.size(); ++s) {
    const int64_t dim = c.embed_dim << s;
    auto stage = container();
    auto blocks = stage->register_module("blocks", nn::ModuleList());
    blocks_.emplace_back();
    for (int64_t b = 0; b < c.depths[s]; ++b, ++block_index) {
      // drop path rates rise linearly over all blocks (torch.linspace(0, rate, total))
      const double dp = total > 1 ? c.drop_path_rate * double(block_index) / double(total - 1) : 0.0;
      auto layer = SwinLayer(c, dim, c.num_heads[s], b % 2 == 0 ? 0 : c.window_size / 2, dp);
      blocks->push_back(layer);
      blocks_.back().push_back(layer);
    }
    if (s + 1 < c.depths.size()) downsample_.push_back(stage->register_module("downsample", SwinPatchMerging(c, dim)));
    stages->push_back(stage);
  }
  layernorm = register_module("layernorm", LayerNorm(nn::LayerNormOptions({c.hidden_size()}).eps(c.layer_norm_eps)));
}

torch::Tensor SwinModelImpl::forward(const torch::Tensor& pixel_values) {
  TORCH_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == c_.num_channels, "Expected pixel_values of shape [batch, ",
              c_.num_channels, ", height, width] but received ", pixel_values.sizes());
  auto px = pixel_values.to(embed_norm->weight.dtype());
  const int64_t p = c_.patch_size;
  const int64_t pad_w = (p - px.size(3) % p) % p, pad_h = (p - px.size(2) % p) % p;
  if (pad_w || pad_h) px = F::pad(px, F::PadFuncOptions({0, pad_w, 0, pad_h}));
  auto x = projection(px);
  int64_t height = x.size(2), width = x.size(3);
  x = embed_norm(x.flatten(2).transpose(1, 2));
  x = torch::dropout(x, c_.hidden_dropout_prob, is_training());
  for (size_t s = 0; s < blocks_.size(); ++s) {
    for (auto& layer : blocks_[s]) x = layer->forward(x, height, width);
    if (s < downsample_.size()) {
      x = downsample_[s]->forward(x, height, width);
      height = (height + 1) / 2;
      width = (width + 1) / 2;
    }
  }
  return layernorm(x);
}

}  // namespace tc
