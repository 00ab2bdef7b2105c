#include "models/encoder_decoder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <cmath>

namespace tc {

VisionEncoderDecoderImpl::VisionEncoderDecoderImpl(const EncoderDecoderConfig& c) : c_(c) {
  if (c.encoder_type == "vit") {
    vit = register_module("encoder", ViTModel(c.vit));
  } else if (c.encoder_type == "swin") {
    swin = register_module("encoder", SwinModel(c.swin));
  } else {
    throw std::invalid_argument("unsupported encoder model_type '" + c.encoder_type + "' (supported: vit, swin)");
  }
  // transformers adds the projection exactly when the widths differ (and no cross_attention_hidden_size is set).
  if (c.encoder_hidden_size() != c.gpt2.n_embd)
    enc_to_dec_proj = register_module("enc_to_dec_proj", torch::nn::Linear(c.encoder_hidden_size(), c.gpt2.n_embd));
  decoder = register_module("decoder", GPT2LMHeadModel(c.gpt2));
}

torch::Tensor VisionEncoderDecoderImpl::encode(const torch::Tensor& pixel_values) {
  return vit ? vit->forward(pixel_values) : swin->forward(pixel_values);
}

torch::Tensor VisionEncoderDecoderImpl::project(const torch::Tensor& encoder_hidden) {
  return enc_to_dec_proj ? enc_to_dec_proj(encoder_hidden) : encoder_hidden;
}

torch::Tensor VisionEncoderDecoderImpl::shift_right(const torch::Tensor& labels) const {
  TORCH_CHECK(c_.decoder_start_token_id >= 0, "decoder_start_token_id is not set on the model config; set it "
              "(for GPT-2: the tokenizer's bos/eos id, 50256)");
  TORCH_CHECK(c_.pad_token_id >= 0, "pad_token_id is not set on the model config; set it (for GPT-2 usually the eos id, 50256)");
  auto shifted = torch::empty_like(labels);
  using torch::indexing::Slice;
  shifted.index_put_({Slice(), Slice(1, torch::indexing::None)}, labels.index({Slice(), Slice(torch::indexing::None, -1)}));
  shifted.select(1, 0).fill_(c_.decoder_start_token_id);
  return shifted.masked_fill(shifted == -100, c_.pad_token_id);
}

Seq2SeqOutput VisionEncoderDecoderImpl::forward(const torch::Tensor& pixel_values, const torch::Tensor& labels,
                                                const torch::Tensor& decoder_input_ids, double label_smoothing) {
  TORCH_CHECK(labels.defined() || decoder_input_ids.defined(), "Expected labels or decoder_input_ids");
  Seq2SeqOutput out;
  out.encoder_last_hidden_state = encode(pixel_values);
  auto ids = decoder_input_ids.defined() ? decoder_input_ids : shift_right(labels);
  TORCH_CHECK(ids.dim() == 2 && ids.size(0) == pixel_values.size(0), "Expected labels of shape [", pixel_values.size(0),
              ", T] (one row per image) but received ", ids.sizes());
  const int64_t vocab = c_.gpt2.vocab_size;
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
  const double enc_range = c_.encoder_type == "swin" ? c_.swin.initializer_range : c_.vit.initializer_range;
  const double dec_range = c_.gpt2.initializer_range;
  for (auto& item : named_parameters(true)) {
    const std::string& name = item.key();
    if (only && !only->count(name)) continue;
    torch::Tensor p = item.value();
    auto ends_with = [&](const std::string& s) { return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
    const bool is_norm = name.find("layernorm") != std::string::npos || name.find("ln_") != std::string::npos ||
                         name.find(".norm.") != std::string::npos;
    auto cpu = torch::empty(p.sizes(), torch::kFloat32);
    if (is_norm) {
      cpu.fill_(ends_with(".weight") ? 1.0 : 0.0);
    } else if (ends_with(".bias") || ends_with("relative_position_bias_table")) {
      cpu.zero_();
    } else {
      double std = name.rfind("decoder.", 0) == 0 ? dec_range : enc_range;
      // GPT-2 scales the residual projections by 1/sqrt(2 * n_layer) (transformers' _init_weights).
      if (name.rfind("decoder.", 0) == 0 && ends_with("c_proj.weight")) std /= std::sqrt(2.0 * c_.gpt2.n_layer);
      cpu.normal_(0.0, std, gen);
    }
    p.copy_(cpu);
  }
}

}  // namespace tc
