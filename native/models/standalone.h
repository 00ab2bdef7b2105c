// Standalone encoder and decoder models, as transformers has them outside a VisionEncoderDecoder: any
// registered vision encoder on its own (ViTModel, SwinModel, DeiTModel, BeitModel, CLIPVisionModel) and any
// registered text decoder as a causal language model (GPT2LMHeadModel, BertLMHeadModel, RobertaForCausalLM).
// They are CaptionModels so that the one Model binding drives them (init, weights, state dicts, devices).
//
// Parameter names are the standalone checkpoint keys: the part's own names, with no prefix (ViTModel
// embeddings.*, encoder.layer.N.*, layernorm.*, pooler.*; GPT2LMHeadModel transformer.*, lm_head.* when untied).
// Inside a VisionEncoderDecoder the same parts sit under encoder. / decoder.; here their children and own
// tensors are registered directly on the standalone module.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/captioner.h"
#include "models/registry.h"

namespace tc {

// forward: pixel_values -> vision_hidden (the encoder's last_hidden_state); no logits, no loss.
class StandaloneEncoderImpl : public CaptionModelImpl {
 public:
  explicit StandaloneEncoderImpl(const EncoderFactory& make);

  CaptionOutput forward(const CaptionInputs& in) override;
  torch::Tensor image_states(const torch::Tensor& pixel_values) override { return encoder->forward(pixel_values); }
  DecoderCache make_cache(const torch::Tensor&) override;
  torch::Tensor decode(const torch::Tensor&, const torch::Tensor&, DecoderCache&, int64_t) override;
  torch::Tensor lm_logits(const torch::Tensor&) override;
  int64_t vocab_size() const override { return 0; }

  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override {
    encoder->init_parameter(name, cpu, gen);
  }
  bool ignored_on_load(const std::string& name) const override { return encoder->ignored_on_load(name); }
  // The part reads its own training flag (dropout at its top level); it is no child of this module.
  void train(bool on = true) override;

  std::shared_ptr<VisionEncoderImpl> encoder;
};
TORCH_MODULE(StandaloneEncoder);

// forward: input_ids (required) [B, T] -> logits [B, T, vocab]; with labels, the causal-LM loss as transformers'
// *LMHeadModel / *ForCausalLM computes it (shifted: logits[:, t] against labels[:, t + 1], -100 ignored).
// CaptionInputs::pixel_values, when given, is the encoder_hidden_states [B, S, hidden] a decoder with
// cross-attention attends to (a decoder saved out of a VisionEncoderDecoder); such a decoder needs them.
class StandaloneDecoderImpl : public CaptionModelImpl {
 public:
  explicit StandaloneDecoderImpl(const DecoderFactory& make);

  CaptionOutput forward(const CaptionInputs& in) override;
  torch::Tensor image_states(const torch::Tensor&) override;
  DecoderCache make_cache(const torch::Tensor& states) override { return decoder->make_cache(states); }
  torch::Tensor decode(const torch::Tensor& ids, const torch::Tensor& states, DecoderCache& cache, int64_t past) override {
    return decoder->hidden(ids, states, &cache, past);
  }
  torch::Tensor lm_logits(const torch::Tensor& hidden) override { return decoder->lm_logits(hidden); }
  // A standalone causal LM (GPT2LMHeadModel, ...) always shifts its labels, as HF's does.
  bool shifts_labels(const CaptionInputs&) const override { return true; }
  int64_t vocab_size() const override { return decoder->vocab_size(); }

  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override {
    decoder->init_parameter(name, cpu, gen);
  }
  bool ignored_on_load(const std::string& name) const override { return decoder->ignored_on_load(name); }
  void train(bool on = true) override;

  std::shared_ptr<TextDecoderImpl> decoder;

 private:
  bool cross_attention_ = false;  // the decoder has cross-attention layers
};
TORCH_MODULE(StandaloneDecoder);

}  // namespace tc
