#include "models/roberta.h"

#include "models/layers.h"

namespace tc {
namespace nn = torch::nn;

RobertaConfig RobertaConfig::from(const ConfigSource& c) {
  RobertaConfig r;
  static_cast<BertConfig&>(r) = BertConfig::from(c);
  return r;
}

RobertaForCausalLMImpl::RobertaForCausalLMImpl(const RobertaConfig& c) : c_(c) {
  roberta = register_module("roberta", BertModel(c, c.pad_token_id));
  auto head = register_module("lm_head", container());
  dense = head->register_module("dense", Linear(c.hidden_size, c.hidden_size));
  layer_norm = head->register_module("layer_norm", LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  bias = head->register_parameter("bias", torch::zeros({c.vocab_size}));
  if (!c.tie_word_embeddings)
    decoder_weight = head->register_module("decoder", container())->register_parameter("weight", torch::empty({c.vocab_size, c.hidden_size}));
}

// create_position_ids_from_input_ids: real tokens count up from padding_idx + 1, continuing after the past
// length; pad tokens sit at padding_idx. The start token is therefore at position pad + 1 = 2.
torch::Tensor RobertaForCausalLMImpl::hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden,
                                             DecoderCache* cache, int64_t past_length) {
  const int64_t pad = c_.pad_token_id;
  auto mask = input_ids.ne(pad).to(torch::kLong);
  auto positions = (mask.cumsum(1) + past_length) * mask + pad;
  // At most past + T real tokens so far, counted up from pad + 1.
  return roberta->forward(input_ids, positions, pad + past_length + input_ids.size(1), encoder_hidden, cache, past_length);
}

torch::Tensor RobertaForCausalLMImpl::lm_logits(const torch::Tensor& hidden) {
  // RobertaLMHead always uses the exact GELU, whatever hidden_act says.
  auto h = layer_norm(activation(dense(hidden), "gelu"));
  const auto& w = decoder_weight.defined() ? decoder_weight : roberta->word_embedding_weight();
  return linear(h, w, bias);
}

void RobertaForCausalLMImpl::init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
  bert_init_parameter(c_, name, cpu, gen);
  // The position table's padding row is zero too.
  if (name == "roberta.embeddings.position_embeddings.weight" && c_.pad_token_id < cpu.size(0)) cpu[c_.pad_token_id].zero_();
}

bool RobertaForCausalLMImpl::ignored_on_load(const std::string& name) const {
  return bert_ignored_on_load(name, "lm_head.decoder", c_.tie_word_embeddings);
}

}  // namespace tc
