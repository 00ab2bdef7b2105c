// VisionEncoderDecoder: any registered vision encoder, an enc_to_dec_proj when the widths differ, any
// registered text decoder with cross-attention. Parameter names are the HF checkpoint keys: encoder.*,
// enc_to_dec_proj.*, decoder.*.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <set>
#include <string>

#include "models/parts.h"
#include "models/registry.h"

namespace tc {

struct EncoderDecoderConfig {
  EncoderFactory encoder;
  DecoderFactory decoder;
  // -1: not set (config.json's null)
  int64_t decoder_start_token_id = -1, pad_token_id = -1, eos_token_id = -1;
};

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

  // Hugging Face style initialisation, each part by its own rules (parts.h), drawing from one generator in
  // parameter order. With `only`, just those parameter names.
  void init_weights(uint64_t seed, const std::set<std::string>* only = nullptr);
  // Checkpoint entries (full names) that Hugging Face ignores on load.
  bool ignored_on_load(const std::string& name) const;

  void set_special_tokens(int64_t decoder_start, int64_t pad, int64_t eos) {
    decoder_start_token_id_ = decoder_start;
    pad_token_id_ = pad;
    eos_token_id_ = eos;
  }

  std::shared_ptr<VisionEncoderImpl> encoder;
  std::shared_ptr<TextDecoderImpl> decoder;

 private:
  int64_t decoder_start_token_id_, pad_token_id_, eos_token_id_;
  torch::nn::Linear enc_to_dec_proj{nullptr};
};
TORCH_MODULE(VisionEncoderDecoder);

}  // namespace tc
