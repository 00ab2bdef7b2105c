#include "models/bert.h"

#include <cmath>

#include "models/layers.h"

namespace tc {
namespace nn = torch::nn;

namespace {

LayerNorm layer_norm(const BertConfig& c) { return LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)); }

}  // namespace

torch::Tensor causal_padding_mask(int64_t past, int64_t T, const torch::Tensor& attention_mask, double value,
                                  const torch::TensorOptions& options) {
  // 4.9 and BLIP: (causal * padding) -> (1 - m) * value, i.e. `value` wherever either forbids the key.
  if (T == 1 && !attention_mask.defined()) return {};  // one new token sees everything before it
  auto longs = torch::TensorOptions().dtype(torch::kLong).device(options.device());
  auto q = torch::arange(past, past + T, longs).unsqueeze(1);
  auto k = torch::arange(0, past + T, longs).unsqueeze(0);
  auto blocked = (k > q).unsqueeze(0).unsqueeze(0);  // [1, 1, T, past + T]
  if (attention_mask.defined()) blocked = blocked.logical_or((attention_mask == 0).unsqueeze(1).unsqueeze(1));
  return blocked.to(options.dtype()).mul(value);
}

BertConfig BertConfig::from(const ConfigSource& s) {
  BertConfig c;
  c.vocab_size = s.integer("vocab_size");
  c.hidden_size = s.integer("hidden_size");
  c.num_hidden_layers = s.integer("num_hidden_layers");
  c.num_attention_heads = s.integer("num_attention_heads");
  c.intermediate_size = s.integer("intermediate_size");
  c.max_position_embeddings = s.integer("max_position_embeddings");
  c.type_vocab_size = s.integer("type_vocab_size");
  c.pad_token_id = s.integer("pad_token_id");
  c.encoder_hidden_size = s.integer("encoder_hidden_size");
  c.hidden_dropout_prob = s.number("hidden_dropout_prob");
  c.attention_probs_dropout_prob = s.number("attention_probs_dropout_prob");
  c.initializer_range = s.number("initializer_range");
  c.layer_norm_eps = s.number("layer_norm_eps");
  c.hidden_act = s.string("hidden_act");
  c.add_cross_attention = s.boolean("add_cross_attention");
  c.tie_word_embeddings = s.boolean("tie_word_embeddings");
  return c;
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c, bool is_cross) : c_(c), is_cross_(is_cross) {
  const int64_t h = c.hidden_size;
  // Cross-attention keys/values read the encoder states, whose width may differ (BLIP-large: 1024 -> 768).
  const int64_t kv_in = is_cross ? c.encoder_hidden_size : h;
  auto self = register_module("self", container());
  query = self->register_module("query", Linear(h, h));
  key = self->register_module("key", Linear(kv_in, h));
  value = self->register_module("value", Linear(kv_in, h));
  auto output = register_module("output", container());
  dense = output->register_module("dense", Linear(h, h));
  layer_norm = output->register_module("LayerNorm", tc::layer_norm(c));
}

torch::Tensor BertAttentionImpl::heads(const torch::Tensor& t) const {
  const int64_t H = c_.num_attention_heads;
  return t.view({t.size(0), t.size(1), H, t.size(2) / H}).permute({0, 2, 1, 3});
}

std::pair<torch::Tensor, torch::Tensor> BertAttentionImpl::cross_kv(const torch::Tensor& encoder_hidden) {
  return {heads(key(encoder_hidden)), heads(value(encoder_hidden))};
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, LayerCache* cache,
                                         const torch::Tensor& self_mask) {
  const int64_t B = x.size(0), T = x.size(1), d = c_.hidden_size / c_.num_attention_heads;
  auto q = heads(query(x));
  torch::Tensor k, v, mask;
  if (is_cross_) {
    // No encoder attention mask: every image token is real.
    if (cache && cache->cross_k.defined()) {
      k = cache->cross_k;
      v = cache->cross_v;
    } else {
      std::tie(k, v) = cross_kv(encoder_hidden);
    }
  } else {
    k = heads(key(x));
    v = heads(value(x));
    if (cache) {
      if (cache->k.defined()) {
        k = torch::cat({cache->k, k}, 2);
        v = torch::cat({cache->v, v}, 2);
      }
      cache->k = k;
      cache->v = v;
    }
    // In the scores' dtype, as the mask was built before: under autocast a float32 mask would promote the
    // bfloat16 scores and change the attention's precision.
    if (self_mask.defined()) mask = self_mask.to(q.scalar_type());
  }
  // Beams of one image share its cached cross-attention keys (layers.h).
  const int64_t group = query_group(q, k);
  auto ctx = attention(group > 1 ? fold_query_groups(q, group) : q, k, v, mask, std::sqrt(double(d)), c_.attention_probs_dropout_prob, is_training());
  if (group > 1) ctx = unfold_query_groups(ctx, group);
  ctx = ctx.permute({0, 2, 1, 3}).contiguous().view({B, T, c_.hidden_size});
  auto h = torch::dropout(dense(ctx), c_.hidden_dropout_prob, is_training());
  return layer_norm(h + x);
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) : c_(c) {
  attention = register_module("attention", BertAttention(c, false));
  if (c.add_cross_attention) crossattention = register_module("crossattention", BertAttention(c, true));
  intermediate = register_module("intermediate", container())->register_module("dense", Linear(c.hidden_size, c.intermediate_size));
  auto out = register_module("output", container());
  output = out->register_module("dense", Linear(c.intermediate_size, c.hidden_size));
  output_norm = out->register_module("LayerNorm", layer_norm(c));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, LayerCache* cache,
                                     const torch::Tensor& self_mask) {
  auto h = attention->forward(x, {}, cache, self_mask);
  if (crossattention) h = crossattention->forward(h, encoder_hidden, cache, {});
  auto m = activation(intermediate(h), c_.hidden_act);
  return output_norm(torch::dropout(output(m), c_.hidden_dropout_prob, is_training()) + h);
}

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c, int64_t position_padding_idx) : c_(c) {
  word_embeddings = register_module(
      "word_embeddings", nn::Embedding(nn::EmbeddingOptions(c.vocab_size, c.hidden_size).padding_idx(c.pad_token_id)));
  auto pos = nn::EmbeddingOptions(c.max_position_embeddings, c.hidden_size);
  if (position_padding_idx >= 0) pos.padding_idx(position_padding_idx);
  position_embeddings = register_module("position_embeddings", nn::Embedding(pos));
  if (c.type_vocab_size > 0) token_type_embeddings = register_module("token_type_embeddings", nn::Embedding(c.type_vocab_size, c.hidden_size));
  layer_norm = register_module("LayerNorm", tc::layer_norm(c));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids, int64_t last_position) {
  TORCH_CHECK(last_position < c_.max_position_embeddings, "Expected at most max_position_embeddings = ",
              c_.max_position_embeddings, " text positions; lower max_length or the caption max_length");
  // 4.9's order: (words + token type 0) + positions, then LayerNorm and dropout.
  auto x = word_embeddings(input_ids);
  if (token_type_embeddings) x = x + token_type_embeddings(torch::zeros_like(input_ids));
  x = x + position_embeddings(position_ids);
  return torch::dropout(layer_norm(x), c_.hidden_dropout_prob, is_training());
}

nn::ModuleList register_bert_layers(nn::Module& parent, const BertConfig& c) {
  auto layers = parent.register_module("encoder", container())->register_module("layer", nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(BertLayer(c));
  return layers;
}

BertModelImpl::BertModelImpl(const BertConfig& c, int64_t position_padding_idx) : c_(c) {
  embeddings = register_module("embeddings", BertEmbeddings(c, position_padding_idx));
  layers = register_bert_layers(*this, c);
}

torch::Tensor BertModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids, int64_t last_position,
                                     const torch::Tensor& encoder_hidden, DecoderCache* cache, int64_t past_length,
                                     const torch::Tensor& attention_mask) {
  auto x = embeddings->forward(input_ids, position_ids, last_position);
  // -10000 for blocked keys, as 4.9's BERT and BLIP's text model write it.
  auto mask = causal_padding_mask(past_length, input_ids.size(1), attention_mask, -10000.0, x.options());
  for (size_t i = 0; i < layers->size(); ++i)
    x = layers[i]->as<BertLayer>()->forward(x, encoder_hidden, cache ? &(*cache)[i] : nullptr, mask);
  return x;
}

DecoderCache BertModelImpl::make_cache(const torch::Tensor& encoder_hidden) {
  return cross_attention_cache<BertLayerImpl>(layers, encoder_hidden);
}

void bert_init_parameter(const BertConfig& c, const std::string& name, torch::Tensor& cpu, at::Generator& gen) {
  // BertPreTrainedModel._init_weights: Linear and Embedding normal(0, range), biases 0, LayerNorm 1 / 0,
  // and the padding row of an Embedding zero.
  if (name.find("LayerNorm") != std::string::npos || name.find("layer_norm") != std::string::npos) {
    cpu.fill_(ends_with(name, ".weight") ? 1.0 : 0.0);
    return;
  }
  if (ends_with(name, "bias")) {
    cpu.zero_();
    return;
  }
  cpu.normal_(0.0, c.initializer_range, gen);
  if (ends_with(name, "embeddings.word_embeddings.weight") && c.pad_token_id >= 0 && c.pad_token_id < cpu.size(0)) cpu[c.pad_token_id].zero_();
}

BertLMHeadModelImpl::BertLMHeadModelImpl(const BertConfig& c) : c_(c) {
  bert = register_module("bert", BertModel(c, -1));
  auto predictions = register_module("cls", container())->register_module("predictions", container());
  auto t = predictions->register_module("transform", container());
  transform = t->register_module("dense", Linear(c.hidden_size, c.hidden_size));
  transform_norm = t->register_module("LayerNorm", layer_norm(c));
  bias = predictions->register_parameter("bias", torch::zeros({c.vocab_size}));
  if (!c.tie_word_embeddings)
    decoder_weight = predictions->register_module("decoder", container())->register_parameter("weight", torch::empty({c.vocab_size, c.hidden_size}));
}

torch::Tensor BertLMHeadModelImpl::hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden,
                                          DecoderCache* cache, int64_t past_length, const torch::Tensor& attention_mask) {
  const int64_t T = input_ids.size(1);
  auto pos = torch::arange(past_length, past_length + T, torch::TensorOptions().dtype(torch::kLong).device(input_ids.device()));
  return bert->forward(input_ids, pos.unsqueeze(0).expand({input_ids.size(0), T}), past_length + T - 1, encoder_hidden, cache,
                       past_length, attention_mask);
}

torch::Tensor BertLMHeadModelImpl::lm_logits(const torch::Tensor& hidden) {
  auto h = transform_norm(activation(transform(hidden), c_.hidden_act));
  const auto& w = decoder_weight.defined() ? decoder_weight : bert->word_embedding_weight();
  return linear(h, w, bias);  // nn.Linear's op (the one-pass kernel when decoding)
}

bool bert_ignored_on_load(const std::string& name, const std::string& head_decoder, bool tied) {
  if (name == head_decoder + ".bias") return true;  // always the head's own bias
  if (tied && name == head_decoder + ".weight") return true;
  return ends_with(name, "embeddings.position_ids") || ends_with(name, "embeddings.token_type_ids");
}

bool BertLMHeadModelImpl::ignored_on_load(const std::string& name) const {
  return bert_ignored_on_load(name, "cls.predictions.decoder", c_.tie_word_embeddings);
}

}  // namespace tc
