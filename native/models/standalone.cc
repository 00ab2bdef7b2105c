#include "models/standalone.h"

namespace tc {
namespace {

// Registers `part`'s own parameters and buffers, then its children, on `self` under the same names:
// self's names are then the part's (no prefix), in the part's parameter order (own tensors first, as
// named_parameters lists them), so that init_weights draws them in the order the part inside a
// VisionEncoderDecoder does.
void adopt(torch::nn::Module& self, torch::nn::Module& part) {
  for (auto& p : part.named_parameters(false)) self.register_parameter(p.key(), p.value(), p.value().requires_grad());
  for (auto& b : part.named_buffers(false)) self.register_buffer(b.key(), b.value());
  for (auto& c : part.named_children()) self.register_module(c.key(), c.value());
}

[[noreturn]] void no_generation(const char* what) {
  TORCH_CHECK(false, what, " has no caption generation (a standalone model; compose it with "
              "VisionEncoderDecoder.fromEncoderDecoderPretrained to caption)");
}

}  // namespace

StandaloneEncoderImpl::StandaloneEncoderImpl(const EncoderFactory& make) : encoder(make()) { adopt(*this, *encoder); }

CaptionOutput StandaloneEncoderImpl::forward(const CaptionInputs& in) {
  TORCH_CHECK(in.pixel_values.defined(), "Expected pixel_values for the encoder");
  CaptionOutput out;
  out.vision_hidden = encoder->forward(in.pixel_values);
  return out;
}

DecoderCache StandaloneEncoderImpl::make_cache(const torch::Tensor&) { no_generation("An encoder model"); }
torch::Tensor StandaloneEncoderImpl::decode(const torch::Tensor&, const torch::Tensor&, DecoderCache&, int64_t) {
  no_generation("An encoder model");
}
torch::Tensor StandaloneEncoderImpl::lm_logits(const torch::Tensor&) { no_generation("An encoder model"); }

void StandaloneEncoderImpl::train(bool on) {
  CaptionModelImpl::train(on);
  encoder->train(on);
}

StandaloneDecoderImpl::StandaloneDecoderImpl(const DecoderFactory& make) : decoder(make()) {
  adopt(*this, *decoder);
  for (const auto& p : decoder->named_parameters(true))
    if (p.key().find("crossattention.") != std::string::npos) cross_attention_ = true;
}

CaptionOutput StandaloneDecoderImpl::forward(const CaptionInputs& in) {
  TORCH_CHECK(in.input_ids.defined(), "Expected input_ids for the decoder's forward");
  TORCH_CHECK(!in.attention_mask.defined(), "a decoder attention_mask is not supported (the decoders are causal: "
              "padding after the text is never seen by earlier positions; mask it in the labels with -100)");
  const auto& ids = in.input_ids;
  const int64_t vocab = vocab_size();
  TORCH_CHECK(ids.dim() == 2 && ids.size(1) > 0, "Expected input_ids of shape [B, T] but received ", ids.sizes());
  TORCH_CHECK(ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < vocab, "Expected token ids in [0, ", vocab, ") in input_ids");
  const auto& enc = in.pixel_values;  // encoder_hidden_states (see the header)
  TORCH_CHECK(!cross_attention_ || enc.defined(), "This decoder has cross-attention layers (add_cross_attention): pass "
              "encoder_hidden_states, or build it without cross-attention");
  TORCH_CHECK(cross_attention_ || !enc.defined(), "encoder_hidden_states were given but this decoder has no cross-attention "
              "(add_cross_attention is false)");
  if (enc.defined())
    TORCH_CHECK(enc.dim() == 3 && enc.size(0) == ids.size(0) && enc.size(2) == decoder->hidden_size(), "Expected encoder_hidden_states of shape [",
                ids.size(0), ", S, ", decoder->hidden_size(), "] but received ", enc.sizes());
  if (in.labels.defined()) {
    TORCH_CHECK(in.labels.sizes() == ids.sizes(), "Expected labels of shape ", ids.sizes(), " (as input_ids) but received ", in.labels.sizes());
    auto used = in.labels.masked_select(in.labels != -100);
    TORCH_CHECK(used.numel() == 0 || (used.min().item<int64_t>() >= 0 && used.max().item<int64_t>() < vocab),
                "Expected label ids in [0, ", vocab, ") or -100 (ignored)");
  }
  CaptionOutput out;
  out.logits = decoder->lm_logits(decoder->hidden(ids, enc, nullptr, 0));
  if (in.labels.defined()) out.loss = loss(out.logits, in.labels, shifts_labels(in), in.label_smoothing);
  return out;
}

torch::Tensor StandaloneDecoderImpl::image_states(const torch::Tensor&) { no_generation("A decoder model"); }

void StandaloneDecoderImpl::train(bool on) {
  CaptionModelImpl::train(on);
  decoder->train(on);
}

}  // namespace tc
