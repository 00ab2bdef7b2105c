// BERT-style text models, shared by the BERT and RoBERTa decoders and by GIT's and BLIP's text parts:
// embeddings (word + token type + absolute position, then LayerNorm; BLIP and GIT have no token types),
// post-LN layers with masked self-attention and optional cross-attention, and BertLMHeadModel. Parameter names follow the checkpoints:
//   bert.embeddings.{word_embeddings,position_embeddings,token_type_embeddings,LayerNorm},
//   bert.encoder.layer.N.{attention.{self.{query,key,value},output.{dense,LayerNorm}},
//   crossattention.{self.*,output.*}, intermediate.dense, output.{dense,LayerNorm}},
//   cls.predictions.{transform.{dense,LayerNorm},bias}; cls.predictions.decoder.weight is the tied word
//   embedding (a separate tensor only when tie_word_embeddings is false) and its bias is cls.predictions.bias.
#pragma once
#include <torch/torch.h>

#include <string>

#include "models/config_source.h"
#include "models/parts.h"
#include "models/layers.h"

namespace tc {

// Config fields are the Hugging Face config.json keys, with no defaults of their own (the JS layer fills them).
struct BertConfig {
  int64_t vocab_size{}, hidden_size{}, num_hidden_layers{}, num_attention_heads{}, intermediate_size{};
  // type_vocab_size 0: no token_type_embeddings (BLIP, GIT). encoder_hidden_size: the width of the states the
  // cross-attention keys/values are computed from (BERT/RoBERTa in a VisionEncoderDecoder: hidden_size).
  int64_t max_position_embeddings{}, type_vocab_size{}, pad_token_id{}, encoder_hidden_size{};
  double hidden_dropout_prob{}, attention_probs_dropout_prob{}, initializer_range{}, layer_norm_eps{};
  std::string hidden_act;
  bool add_cross_attention{}, tie_word_embeddings{};

  static BertConfig from(const ConfigSource& c);
};

// Self-attention (with a cache, under the caller's additive mask: causal, padding, GIT's image/text rule) or
// cross-attention over the encoder states (every image token visible); post-LN output.
class BertAttentionImpl : public torch::nn::Module {
 public:
  BertAttentionImpl(const BertConfig& c, bool is_cross);
  // `mask`: additive, broadcast to [B, heads, T, keys]; undefined = every key visible.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, LayerCache* cache, const torch::Tensor& mask);
  // Cross-attention keys/values of the encoder states, split into heads.
  std::pair<torch::Tensor, torch::Tensor> cross_kv(const torch::Tensor& encoder_hidden);

 private:
  torch::Tensor heads(const torch::Tensor& t) const;
  BertConfig c_;
  bool is_cross_;
  Linear query{nullptr}, key{nullptr}, value{nullptr}, dense{nullptr};
  LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(BertAttention);

class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, LayerCache* cache, const torch::Tensor& self_mask);
  BertAttention attention{nullptr}, crossattention{nullptr};

 private:
  BertConfig c_;
  Linear intermediate{nullptr}, output{nullptr};
  LayerNorm output_norm{nullptr};
};
TORCH_MODULE(BertLayer);

// `embeddings.*`: LayerNorm(words (+ token type 0) + positions), then dropout. `position_padding_idx` is
// RoBERTa's padding row of the position table (-1 for BERT, whose positions have none).
class BertEmbeddingsImpl : public torch::nn::Module {
 public:
  BertEmbeddingsImpl(const BertConfig& c, int64_t position_padding_idx);
  // `last_position`: the largest id in position_ids, which the caller knows from the lengths (no device sync).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids, int64_t last_position);
  torch::nn::Embedding word_embeddings{nullptr};

 private:
  BertConfig c_;
  torch::nn::Embedding position_embeddings{nullptr}, token_type_embeddings{nullptr};
  LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(BertEmbeddings);

// `encoder.layer.N`: a list of BertLayers registered under BERT's names.
torch::nn::ModuleList register_bert_layers(torch::nn::Module& parent, const BertConfig& c);

// transformers' extended attention mask for T queries at positions past .. past + T - 1 over past + T keys:
// `value` above the diagonal (future tokens), and `value` at the key columns where `attention_mask` [B, past + T]
// is 0 (padding; undefined = none). Undefined when nothing is masked (one new token, no padding).
torch::Tensor causal_padding_mask(int64_t past, int64_t T, const torch::Tensor& attention_mask, double value,
                                  const torch::TensorOptions& options);

// Embeddings and layers (BertModel without pooler).
class BertModelImpl : public torch::nn::Module {
 public:
  BertModelImpl(const BertConfig& c, int64_t position_padding_idx);
  // Causal self-attention, with padding masked when `attention_mask` [B, past + T] is given.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids, int64_t last_position,
                        const torch::Tensor& encoder_hidden, DecoderCache* cache, int64_t past_length,
                        const torch::Tensor& attention_mask = {});
  DecoderCache make_cache(const torch::Tensor& encoder_hidden);
  torch::Tensor word_embedding_weight() const { return embeddings->word_embeddings->weight; }

 private:
  BertConfig c_;
  BertEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(BertModel);

// Shared by the BERT-family decoders: BERT's init rules (LayerNorm 1/0, padding rows of embeddings zero),
// and what HF ignores on load: the tied head decoder (`head_decoder`.weight when tied, .bias always) and
// the position_ids/token_type_ids buffers of older files.
void bert_init_parameter(const BertConfig& c, const std::string& name, torch::Tensor& cpu, at::Generator& gen);
bool bert_ignored_on_load(const std::string& name, const std::string& head_decoder, bool tied);

class BertLMHeadModelImpl : public TextDecoderImpl {
 public:
  explicit BertLMHeadModelImpl(const BertConfig& c);
  torch::Tensor hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden, DecoderCache* cache,
                       int64_t past_length) override {
    return hidden(input_ids, encoder_hidden, cache, past_length, {});
  }
  // With the padding mask of the text (BLIP's training inputs).
  torch::Tensor hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden, DecoderCache* cache,
                       int64_t past_length, const torch::Tensor& attention_mask);
  torch::Tensor lm_logits(const torch::Tensor& hidden) override;
  DecoderCache make_cache(const torch::Tensor& encoder_hidden) override { return bert->make_cache(encoder_hidden); }
  int64_t hidden_size() const override { return c_.hidden_size; }
  int64_t vocab_size() const override { return c_.vocab_size; }
  double initializer_range() const override { return c_.initializer_range; }
  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override {
    bert_init_parameter(c_, name, cpu, gen);
  }
  // The tied cls.predictions.decoder.{weight,bias}, and the position_ids/token_type_ids buffers of older files.
  bool ignored_on_load(const std::string& name) const override;

 private:
  BertConfig c_;
  BertModel bert{nullptr};
  Linear transform{nullptr};
  LayerNorm transform_norm{nullptr};
  torch::Tensor bias, decoder_weight;  // decoder_weight undefined when tied
};
TORCH_MODULE(BertLMHeadModel);

}  // namespace tc
