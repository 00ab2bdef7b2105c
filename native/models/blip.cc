#include "models/blip.h"

#include <memory>

namespace tc {

BlipConfig BlipConfig::from(const ConfigSource& s) {
  return {BlipVisionConfig::from(*s.child("vision")), BertConfig::from(*s.child("text"))};
}

BlipForConditionalGenerationImpl::BlipForConditionalGenerationImpl(const BlipConfig& c) {
  TORCH_CHECK(c.text.add_cross_attention && c.text.type_vocab_size == 0 && c.text.encoder_hidden_size == c.vision.hidden_size,
              "BLIP text config (lib/models/architectures/blip.ts fills it)");
  vision_model = register_module("vision_model", BlipVisionModel(c.vision));
  text_decoder = register_module("text_decoder", BertLMHeadModel(c.text));
}

CaptionOutput BlipForConditionalGenerationImpl::forward(const CaptionInputs& in) {
  CaptionOutput out;
  out.vision_hidden = vision_hidden(in);
  auto ids = text_ids(in);
  out.logits = text_decoder->lm_logits(text_decoder->hidden(ids, out.vision_hidden, nullptr, 0, in.attention_mask));
  if (in.labels.defined()) out.loss = loss(out.logits, in.labels, shifts_labels(in), in.label_smoothing);
  return out;
}

void BlipForConditionalGenerationImpl::init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
  if (name.rfind("text_decoder.", 0) == 0) return text_decoder->init_parameter(name.substr(13), cpu, gen);
  vision_model->init_parameter(name.substr(13), cpu, gen);  // "vision_model."
}

bool BlipForConditionalGenerationImpl::ignored_on_load(const std::string& name) const {
  return name.rfind("text_decoder.", 0) == 0 && text_decoder->ignored_on_load(name.substr(13));
}

}  // namespace tc
