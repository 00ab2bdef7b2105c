#include "models/encoder_decoder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <cmath>

namespace tc {

VisionEncoderDecoderImpl::VisionEncoderDecoderImpl(const EncoderDecoderConfig& c)
    : decoder_start_token_id_(c.decoder_start_token_id), pad_token_id_(c.pad_token_id), eos_token_id_(c.eos_token_id) {
  // Registration order is parameter order: encoder, projection, decoder, as in transformers.
  encoder = register_module("encoder", c.encoder());
  decoder = c.decoder();
  // transformers adds the projection exactly when the widths differ (and no cross_attention_hidden_size is set).
  if (encoder->hidden_size() != decoder->hidden_size())
    enc_to_dec_proj = register_module("enc_to_dec_proj", torch::nn::Linear(encoder->hidden_size(), decoder->hidden_size()));
  register_module("decoder", decoder);
}

torch::Tensor VisionEncoderDecoderImpl::encode(const torch::Tensor& pixel_values) { return encoder->forward(pixel_values); }

torch::Tensor VisionEncoderDecoderImpl::project(const torch::Tensor& encoder_hidden) {
  return enc_to_dec_proj ? enc_to_dec_proj(encoder_hidden) : encoder_hidden;
}

torch::Tensor VisionEncoderDecoderImpl::shift_right(const torch::Tensor& labels) const {
  TORCH_CHECK(decoder_start_token_id_ >= 0, "decoder_start_token_id is not set on the model config; set it "
              "(for GPT-2: the tokenizer's bos/eos id, 50256)");
  TORCH_CHECK(pad_token_id_ >= 0, "pad_token_id is not set on the model config; set it (for GPT-2 usually the eos id, 50256)");
  auto shifted = torch::empty_like(labels);
  using torch::indexing::Slice;
  shifted.index_put_({Slice(), Slice(1, torch::indexing::None)}, labels.index({Slice(), Slice(torch::indexing::None, -1)}));
  shifted.select(1, 0).fill_(decoder_start_token_id_);
  return shifted.masked_fill(shifted == -100, pad_token_id_);
}

Seq2SeqOutput VisionEncoderDecoderImpl::forward(const torch::Tensor& pixel_values, const torch::Tensor& labels,
                                                const torch::Tensor& decoder_input_ids, double label_smoothing) {
  TORCH_CHECK(labels.defined() || decoder_input_ids.defined(), "Expected labels or decoder_input_ids");
  Seq2SeqOutput out;
  out.encoder_last_hidden_state = encode(pixel_values);
  auto ids = decoder_input_ids.defined() ? decoder_input_ids : shift_right(labels);
  TORCH_CHECK(ids.dim() == 2 && ids.size(0) == pixel_values.size(0), "Expected labels of shape [", pixel_values.size(0),
              ", T] (one row per image) but received ", ids.sizes());
  const int64_t vocab = decoder->vocab_size();
  TORCH_CHECK(ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < vocab, "Expected token ids in [0, ", vocab,
              ") in labels (or -100 for ignored positions)");
  if (labels.defined()) {
    auto used = labels.masked_select(labels != -100);
    TORCH_CHECK(used.numel() == 0 || (used.min().item<int64_t>() >= 0 && used.max().item<int64_t>() < vocab),
                "Expected label ids in [0, ", vocab, ") or -100 (ignored) but labels hold ids outside that range; "
                "does the tokenizer match the model's vocab_size?");
  }
  auto hidden = decoder->hidden(ids, project(out.encoder_last_hidden_state), nullptr, 0);
  out.logits = decoder->lm_logits(hidden);
  if (labels.defined()) {
    namespace F = torch::nn::functional;
    out.loss = F::cross_entropy(out.logits.reshape({-1, vocab}).to(torch::kFloat32), labels.reshape({-1}),
                                F::CrossEntropyFuncOptions().ignore_index(-100).label_smoothing(label_smoothing));
  }
  return out;
}

void VisionEncoderDecoderImpl::init_weights(uint64_t seed, const std::set<std::string>* only) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto starts_with = [](const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; };
  for (auto& item : named_parameters(true)) {
    const std::string& name = item.key();
    if (only && !only->count(name)) continue;
    torch::Tensor p = item.value();
    auto cpu = torch::empty(p.sizes(), torch::kFloat32);
    if (starts_with(name, "encoder.")) encoder->init_parameter(name.substr(8), cpu, gen);
    else if (starts_with(name, "decoder.")) decoder->init_parameter(name.substr(8), cpu, gen);
    else hf_default_init(name, cpu, encoder->initializer_range(), gen);  // enc_to_dec_proj
    p.copy_(cpu);
  }
}

bool VisionEncoderDecoderImpl::ignored_on_load(const std::string& name) const {
  if (name.rfind("encoder.", 0) == 0) return encoder->ignored_on_load(name.substr(8));
  if (name.rfind("decoder.", 0) == 0) return decoder->ignored_on_load(name.substr(8));
  return false;
}

}  // namespace tc
