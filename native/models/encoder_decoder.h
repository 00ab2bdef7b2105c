// VisionEncoderDecoder: any registered vision encoder, an enc_to_dec_proj when the widths differ, any
// registered text decoder with cross-attention. Parameter names are the HF checkpoint keys: encoder.*,
// enc_to_dec_proj.*, decoder.*.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/captioner.h"
#include "models/registry.h"

namespace tc {

struct EncoderDecoderConfig {
  EncoderFactory encoder;
  DecoderFactory decoder;
};

class VisionEncoderDecoderImpl : public CaptionModelImpl {
 public:
  explicit VisionEncoderDecoderImpl(const EncoderDecoderConfig& c);

  // Teacher-forced forward. The decoder inputs are decoder_input_ids (CaptionInputs::input_ids) or the labels
  // shifted right; the loss compares logits[:, t] with labels[:, t].
  CaptionOutput forward(const CaptionInputs& in) override;

  // The encoder states as the decoder's cross-attention sees them (after enc_to_dec_proj when present).
  torch::Tensor image_states(const torch::Tensor& pixel_values) override { return project(encoder->forward(pixel_values)); }
  DecoderCache make_cache(const torch::Tensor& states) override { return decoder->make_cache(states); }
  torch::Tensor decode(const torch::Tensor& ids, const torch::Tensor& states, DecoderCache& cache, int64_t past) override {
    return decoder->hidden(ids, states, &cache, past);
  }
  torch::Tensor lm_logits(const torch::Tensor& hidden) override { return decoder->lm_logits(hidden); }
  int64_t vocab_size() const override { return decoder->vocab_size(); }
  std::string vision_prefix() const override { return "encoder"; }
  bool shifts_labels(const CaptionInputs&) const override { return false; }
  torch::Tensor vision_forward(const torch::Tensor& pixel_values) override { return encoder->forward(pixel_values); }

  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override;
  bool ignored_on_load(const std::string& name) const override;

  std::shared_ptr<VisionEncoderImpl> encoder;
  std::shared_ptr<TextDecoderImpl> decoder;

 private:
  torch::Tensor project(const torch::Tensor& encoder_hidden) { return enc_to_dec_proj ? enc_to_dec_proj(encoder_hidden) : encoder_hidden; }
  torch::nn::Linear enc_to_dec_proj{nullptr};
};
TORCH_MODULE(VisionEncoderDecoder);

}  // namespace tc
