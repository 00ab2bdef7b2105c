// VisionEncoderDecoder: image encoder (ViT or Swin), optional enc_to_dec_proj when the widths differ,
// GPT-2 decoder with cross-attention. Parameter names are the HF checkpoint keys: encoder.*, enc_to_dec_proj.*,
// decoder.*.
#pragma once
#include <torch/torch.h>
#include <set>
#include <string>
#include "models/config.h"
#include "models/gpt2.h"
#include "models/swin.h"
#include "models/vit.h"

namespace tc {

struct Seq2SeqOutput {
  torch::Tensor logits;                    // [B, T, vocab]
  torch::Tensor encoder_last_hidden_state; // [B, S, encoder hidden] (before enc_to_dec_proj)
  torch::Tensor loss;                      // scalar, undefined without labels
};

class VisionEncoderDecoderImpl : public torch::nn::Module {
 public:
  explicit VisionEncoderDecoderImpl(const EncoderDecoderConfig& c);

  // Encoder last hidden state [B, S, encoder hidden].
  torch::Tensor encode(const torch::Tensor& pixel_values);
  // Encoder states as the decoder's cross-attention sees them (after enc_to_dec_proj when present).
  torch::Tensor project(const torch::Tensor& encoder_hidden);
  // Teacher-forced forward. decoder_input_ids default to labels shifted right (start token first,
  // -100 replaced by pad_token_id), as transformers does.
  Seq2SeqOutput forward(const torch::Tensor& pixel_values, const torch::Tensor& labels,
                        const torch::Tensor& decoder_input_ids, double label_smoothing = 0.0);
  torch::Tensor shift_right(const torch::Tensor& labels) const;

  // Hugging Face style initialisation: normal(0, initializer_range) for weights and embeddings, zero
  // biases, LayerNorm 1/0, GPT-2's scaled c_proj init. With `only`, just those parameter names.
  void init_weights(uint64_t seed, const std::set<std::string>* only = nullptr);

  const EncoderDecoderConfig& config() const { return c_; }
  void set_special_tokens(int64_t decoder_start, int64_t pad, int64_t eos) {
    c_.decoder_start_token_id = decoder_start;
    c_.pad_token_id = pad;
    c_.eos_token_id = eos;
  }
  GPT2LMHeadModel decoder{nullptr};

 private:
  EncoderDecoderConfig c_;
  ViTModel vit{nullptr};
  SwinModel swin{nullptr};
  torch::nn::Linear enc_to_dec_proj{nullptr};
};
TORCH_MODULE(VisionEncoderDecoder);

}  // namespace tc
