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
  // Given (then pixel_values is undefined): the vision tower's last hidden state of each image, as
  // CaptionOutput::vision_hidden returns it (cached encoder outputs); the tower does not run. Everything after
  // the tower (VisionEncoderDecoder's enc_to_dec_proj, GIT's visual_projection) runs on it as usual.
  torch::Tensor vision_hidden;
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

  // The vision tower: its module path ("encoder", "git.image_encoder", "vision_model": the prefix of its
  // parameter names, and what Hugging Face users freeze with requires_grad_(False)), and its forward.
  virtual std::string vision_prefix() const;
  virtual torch::Tensor vision_forward(const torch::Tensor& pixel_values);
  // Freezing sets requires_grad on the tower's parameters (no gradients, so no AdamW state for them); a frozen
  // tower runs under no-grad. Returns the number of parameter tensors changed.
  int64_t set_vision_frozen(bool frozen);
  bool vision_frozen() const { return vision_frozen_; }
  // The tower's last hidden state for pixel values, under no-grad and in eval mode (no dropout) whatever the
  // model's mode: what a cache of encoder outputs stores.
  torch::Tensor encode_images(const torch::Tensor& pixel_values);

  // -1: not set. The start token begins the text built from labels.
  void set_special_tokens(int64_t start, int64_t pad, int64_t eos) {
    decoder_start_token_id_ = start;
    pad_token_id_ = pad;
    eos_token_id_ = eos;
  }
  torch::Device device() const { return parameters().front().device(); }

  // Whether the loss of `in` is shifted (position t predicts labels[t + 1]): HF's rule for text given as
  // input_ids to a causal model; VisionEncoderDecoder never shifts (its labels are the targets as given).
  virtual bool shifts_labels(const CaptionInputs& in) const { return in.input_ids.defined(); }
  // The labels the loss of `in` averages over (!= -100, after the shift): what the training step weights
  // micro-batches and ranks by, so that the mean is over every token of the optimizer step.
  int64_t loss_tokens(const CaptionInputs& in) const;

 protected:
  // in.vision_hidden when given, else the tower's forward of in.pixel_values (under no-grad when frozen).
  torch::Tensor vision_hidden(const CaptionInputs& in);
  // Rows of the batch: of pixel_values, or of vision_hidden when given.
  static int64_t batch_size(const CaptionInputs& in) { return in.vision_hidden.defined() ? in.vision_hidden.size(0) : in.pixel_values.size(0); }
  // Labels shifted right: the start token first, -100 replaced by pad_token_id, as transformers does.
  torch::Tensor shift_right(const torch::Tensor& labels) const;
  // The text ids of `in` (given, or shift_right(labels)), checked against the batch and the vocabulary.
  torch::Tensor text_ids(const CaptionInputs& in) const;
  // Mean cross-entropy over labels != -100; with `shifted`, logits[:, t] against labels[:, t + 1].
  torch::Tensor loss(const torch::Tensor& logits, const torch::Tensor& labels, bool shifted, double label_smoothing) const;

  int64_t decoder_start_token_id_ = -1, pad_token_id_ = -1, eos_token_id_ = -1;
  bool vision_frozen_ = false;
};

}  // namespace tc
