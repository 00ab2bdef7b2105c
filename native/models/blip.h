// BlipForConditionalGeneration: BLIP's vision tower (vision_model.*) and a BERT text decoder with
// cross-attention to every image token (text_decoder.bert.*, text_decoder.cls.predictions.* tied to the word
// embeddings). Text starts with [DEC] (the start token); the loss follows HF: with input_ids given,
// logits[:, t] predicts labels[:, t + 1].
#pragma once
#include <torch/torch.h>

#include "models/bert.h"
#include "models/blip_vision.h"
#include "models/captioner.h"

namespace tc {

struct BlipConfig {
  BlipVisionConfig vision;
  BertConfig text;  // no token types, cross-attention from the vision width, tied head (the JS layer sets them)

  static BlipConfig from(const ConfigSource& c);
};

class BlipForConditionalGenerationImpl : public CaptionModelImpl {
 public:
  explicit BlipForConditionalGenerationImpl(const BlipConfig& c);
  CaptionOutput forward(const CaptionInputs& in) override;

  torch::Tensor image_states(const torch::Tensor& pixel_values) override { return vision_model->forward(pixel_values); }
  DecoderCache make_cache(const torch::Tensor& states) override { return text_decoder->make_cache(states); }
  torch::Tensor decode(const torch::Tensor& ids, const torch::Tensor& states, DecoderCache& cache, int64_t past) override {
    return text_decoder->hidden(ids, states, &cache, past);
  }
  torch::Tensor lm_logits(const torch::Tensor& hidden) override { return text_decoder->lm_logits(hidden); }
  int64_t vocab_size() const override { return text_decoder->vocab_size(); }
  std::string vision_prefix() const override { return "vision_model"; }
  torch::Tensor vision_forward(const torch::Tensor& pixel_values) override { return vision_model->forward(pixel_values); }

  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override;
  bool ignored_on_load(const std::string& name) const override;

 private:
  BlipVisionModel vision_model{nullptr};
  BertLMHeadModel text_decoder{nullptr};
};
TORCH_MODULE(BlipForConditionalGeneration);

}  // namespace tc
