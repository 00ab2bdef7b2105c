// GitForCausalLM: a CLIP-style vision tower (git.image_encoder.vision_model.*), its tokens projected
// (git.visual_projection.visual_projection.{0: Linear, 1: LayerNorm}), then one stack of post-LN BERT layers
// (git.embeddings.*, git.encoder.layer.N.*) over [image tokens; text tokens], and the `output` head.
//
// GIT's attention mask: image tokens see every image token and no text; text sees every image token and the
// text causally. Image-token states therefore never depend on the text, so generation computes them once per
// image: make_cache runs the image tokens through the layers and keeps each layer's keys/values, and each
// decoding step runs only the new text tokens against them (HF recomputes them at every step; same values).
#pragma once
#include <torch/torch.h>

#include "models/bert.h"
#include "models/captioner.h"
#include "models/clip_vision.h"
#include "models/layers.h"

namespace tc {

struct GitConfig {
  CLIPVisionConfig vision;  // with GIT's post_layernorm_all_tokens and scale_scores
  BertConfig text;          // no token types, no cross-attention, untied `output`

  static GitConfig from(const ConfigSource& c);
};

class GitForCausalLMImpl : public CaptionModelImpl {
 public:
  explicit GitForCausalLMImpl(const GitConfig& c);
  // logits for every position [B, image tokens + T, vocab]; the loss reads the text positions only.
  CaptionOutput forward(const CaptionInputs& in) override;

  // The projected image tokens [B, N, hidden].
  torch::Tensor image_states(const torch::Tensor& pixel_values) override;
  // Each layer's keys/values of the image tokens, as the first N entries of its self-attention cache.
  DecoderCache make_cache(const torch::Tensor& states) override;
  torch::Tensor decode(const torch::Tensor& ids, const torch::Tensor& states, DecoderCache& cache, int64_t past) override;
  torch::Tensor lm_logits(const torch::Tensor& hidden) override { return output(hidden); }
  int64_t vocab_size() const override { return c_.text.vocab_size; }
  std::string vision_prefix() const override { return "git.image_encoder"; }
  torch::Tensor vision_forward(const torch::Tensor& pixel_values) override { return image_encoder->forward(pixel_values); }

  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override;
  bool ignored_on_load(const std::string& name) const override;

 private:
  // The additive mask of T text tokens after `past` cached ones, over [N image; past + T text] keys.
  torch::Tensor text_mask(int64_t N, int64_t past, int64_t T, const torch::TensorOptions& options) const;
  torch::Tensor run_layers(torch::Tensor x, DecoderCache* cache, const torch::Tensor& mask);

  GitConfig c_;
  BertEmbeddings embeddings{nullptr};
  CLIPVisionModel image_encoder{nullptr};
  torch::nn::ModuleList layers{nullptr};
  Linear projection{nullptr}, output{nullptr};
  LayerNorm projection_norm{nullptr};
};
TORCH_MODULE(GitForCausalLM);

}  // namespace tc
