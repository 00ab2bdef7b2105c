#include "models/encoder_decoder.h"

#include "models/layers.h"

namespace tc {

VisionEncoderDecoderImpl::VisionEncoderDecoderImpl(const EncoderDecoderConfig& c) {
  // Registration order is parameter order: encoder, projection, decoder, as in transformers.
  encoder = register_module("encoder", c.encoder());
  decoder = c.decoder();
  // transformers adds the projection exactly when the widths differ (and no cross_attention_hidden_size is set).
  if (encoder->hidden_size() != decoder->hidden_size())
    enc_to_dec_proj = register_module("enc_to_dec_proj", torch::nn::Linear(encoder->hidden_size(), decoder->hidden_size()));
  register_module("decoder", decoder);
}

CaptionOutput VisionEncoderDecoderImpl::forward(const CaptionInputs& in) {
  TORCH_CHECK(!in.attention_mask.defined(), "VisionEncoderDecoder without an attention_mask (lib/models checks)");
  CaptionOutput out;
  out.vision_hidden = vision_hidden(in);  // the tower's output (or the cached one); enc_to_dec_proj stays in the graph
  auto ids = text_ids(in);
  out.logits = decoder->lm_logits(decoder->hidden(ids, project(out.vision_hidden), nullptr, 0));
  if (in.labels.defined()) out.loss = loss(out.logits, in.labels, shifts_labels(in), in.label_smoothing);
  return out;
}

void VisionEncoderDecoderImpl::init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
  if (name.rfind("encoder.", 0) == 0) encoder->init_parameter(name.substr(8), cpu, gen);
  else if (name.rfind("decoder.", 0) == 0) decoder->init_parameter(name.substr(8), cpu, gen);
  else hf_default_init(name, cpu, encoder->initializer_range(), gen);  // enc_to_dec_proj
}

bool VisionEncoderDecoderImpl::ignored_on_load(const std::string& name) const {
  if (name.rfind("encoder.", 0) == 0) return encoder->ignored_on_load(name.substr(8));
  if (name.rfind("decoder.", 0) == 0) return decoder->ignored_on_load(name.substr(8));
  return false;
}

}  // namespace tc
