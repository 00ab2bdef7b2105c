// The captioning architectures as one interface: VisionEncoderDecoder, GitForCausalLM and
// BlipForConditionalGeneration. The bindings, the training step and generation see only this.
#pragma once
#include <torch/torch.h>

#include <set>
#include <string>

#include "models/parts.h"

namespace tc {

struct CaptionInputs {
  torch::Tensor pixel_values;  // [B, C, H, W]
  // Hugging Face's text input: decoder_input_ids for VisionEncoderDecoder, input_ids for GIT and BLIP (whose
  // loss is then shifted: position t predicts labels[t + 1]). Undefined: built from labels by shift_right, with
  // the loss unshifted (labels[t] is the target at position t), which is the same loss on the same text.
  torch::Tensor input_ids;
  torch::Tensor attention_mask;  // [B, T] text padding mask (GIT, BLIP); undefined = no padding
  torch::Tensor labels;          // [B, T], -100 = ignored
  double label_smoothing = 0;
};

struct CaptionOutput {
  torch::Tensor logits;        // [B, T, vocab] (GIT: [B, image tokens + T, vocab], as HF returns them)
  torch::Tensor vision_hidden; // the vision tower's last hidden state (encoder_last_hidden_state)
  torch::Tensor loss;          // scalar, undefined without labels
};

class CaptionModelImpl : public torch::nn::Module {
 public:
  virtual CaptionOutput forward(const CaptionInputs& in) = 0;

  // Generation: what the text side reads of each image (computed once per image), a cache built from it once,
  // then the hidden states of new tokens `ids` [N, T] after `past` earlier text tokens.
  virtual torch::Tensor image_states(const torch::Tensor& pixel_values) = 0;
  virtual DecoderCache make_cache(const torch::Tensor& image_states) = 0;
  virtual torch::Tensor decode(const torch::Tensor& ids, const torch::Tensor& image_states, DecoderCache& cache, int64_t past) = 0;
  virtual torch::Tensor lm_logits(const torch::Tensor& hidden) = 0;
  virtual int64_t vocab_size() const = 0;

  // Hugging Face style initialisation of one parameter (full name); init_weights draws every parameter from
  // one generator in parameter order (with `only`, just those names).
  virtual void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const = 0;
  void init_weights(uint64_t seed, const std::set<std::string>* only = nullptr);
  // Checkpoint entries (full names) that Hugging Face ignores on load: tied duplicates, legacy buffers.
  virtual bool ignored_on_load(const std::string& name) const = 0;

  // -1: not set. The start token begins the text built from labels.
  void set_special_tokens(int64_t start, int64_t pad, int64_t eos) {
    decoder_start_token_id_ = start;
    pad_token_id_ = pad;
    eos_token_id_ = eos;
  }
  torch::Device device() const { return parameters().front().device(); }

 protected:
  // Labels shifted right: the start token first, -100 replaced by pad_token_id, as transformers does.
  torch::Tensor shift_right(const torch::Tensor& labels) const;
  // The text ids of `in` (given, or shift_right(labels)), checked against the batch and the vocabulary.
  torch::Tensor text_ids(const CaptionInputs& in) const;
  // Mean cross-entropy over labels != -100; with `shifted`, logits[:, t] against labels[:, t + 1].
  torch::Tensor loss(const torch::Tensor& logits, const torch::Tensor& labels, bool shifted, double label_smoothing) const;

  int64_t decoder_start_token_id_ = -1, pad_token_id_ = -1, eos_token_id_ = -1;
};

}  // namespace tc
