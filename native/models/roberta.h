// RoBERTa decoder (Hugging Face RobertaForCausalLM): BERT's layers (models/bert.h) with RoBERTa's
// padding-aware position ids and head. Names: roberta.embeddings.*, roberta.encoder.layer.N.* (BERT's),
// lm_head.{dense,layer_norm,bias}; lm_head.decoder.weight is the tied word embedding (a separate tensor only
// when tie_word_embeddings is false) and its bias is lm_head.bias.
#pragma once
#include <torch/torch.h>

#include "models/bert.h"
#include "models/parts.h"
#include "models/layers.h"

namespace tc {

// RobertaConfig has BertConfig's fields; its pad_token_id (1) is also the padding row of the positions.
struct RobertaConfig : BertConfig {
  static RobertaConfig from(const ConfigSource& c);
};

class RobertaForCausalLMImpl : public TextDecoderImpl {
 public:
  explicit RobertaForCausalLMImpl(const RobertaConfig& c);
  torch::Tensor hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden, DecoderCache* cache,
                       int64_t past_length) override;
  torch::Tensor lm_logits(const torch::Tensor& hidden) override;
  DecoderCache make_cache(const torch::Tensor& encoder_hidden) override { return roberta->make_cache(encoder_hidden); }
  int64_t hidden_size() const override { return c_.hidden_size; }
  int64_t vocab_size() const override { return c_.vocab_size; }
  double initializer_range() const override { return c_.initializer_range; }
  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override;
  bool ignored_on_load(const std::string& name) const override;

 private:
  RobertaConfig c_;
  BertModel roberta{nullptr};
  Linear dense{nullptr};
  LayerNorm layer_norm{nullptr};
  torch::Tensor bias, decoder_weight;  // decoder_weight undefined when tied
};
TORCH_MODULE(RobertaForCausalLM);

}  // namespace tc
