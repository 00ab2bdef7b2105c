// The two halves of a captioner, as interfaces: every vision encoder (vit, deit, beit, swin, clip_vision)
// and every text decoder (gpt2, bert, roberta) implements one of them, and the registry (models/registry.h)
// builds them by model_type. VisionEncoderDecoder and generation only see these interfaces.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace tc {

// Hugging Face's default _init_weights for one parameter (name relative to its part): LayerNorm weight 1 /
// bias 0, other biases and relative-position tables 0, everything else normal(0, range).
void hf_default_init(const std::string& name, torch::Tensor& cpu, double range, at::Generator& gen);

class VisionEncoderImpl : public torch::nn::Module {
 public:
  // pixel_values [B, C, H, W] -> last_hidden_state [B, S, hidden_size()], what the decoder cross-attends to.
  virtual torch::Tensor forward(const torch::Tensor& pixel_values) = 0;
  virtual int64_t hidden_size() const = 0;
  virtual double initializer_range() const = 0;
  // HF-style init of one parameter (name relative to the encoder); architectures with other rules override.
  virtual void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
    hf_default_init(name, cpu, initializer_range(), gen);
  }
  // Checkpoint entries (relative names) that Hugging Face ignores on load: legacy buffers.
  virtual bool ignored_on_load(const std::string& name) const { return false; }
};

// Per-layer decoding state: self-attention keys/values of the tokens so far, and the cross-attention
// keys/values of the image features, computed once per image rather than at every step.
struct LayerCache {
  torch::Tensor k, v;              // [B, heads, T_past, d]
  torch::Tensor cross_k, cross_v;  // [B, heads, S, d]
};
using DecoderCache = std::vector<LayerCache>;

// A cache holding each layer's cross-attention keys/values of `encoder_hidden`, for decoders whose layers
// have a `crossattention` module with cross_kv (GPT-2 blocks, BERT layers). Stored contiguous: as
// permuted views, every decoding step's matmul would copy them again.
template <class Layer>
DecoderCache cross_attention_cache(const torch::nn::ModuleList& layers, const torch::Tensor& encoder_hidden) {
  DecoderCache cache(layers->size());
  for (size_t i = 0; i < layers->size(); ++i) {
    auto layer = layers->ptr(i)->template as<Layer>();
    if (!layer->crossattention) continue;
    auto [k, v] = layer->crossattention->cross_kv(encoder_hidden);
    cache[i].cross_k = k.contiguous();
    cache[i].cross_v = v.contiguous();
  }
  return cache;
}

class TextDecoderImpl : public torch::nn::Module {
 public:
  // Final hidden states for input_ids [B, T] starting at position `past_length`, cross-attending to
  // `encoder_hidden` [B, S, hidden_size()]. With a cache, self-attention keys/values are appended to it and
  // cross-attention keys/values read from it.
  virtual torch::Tensor hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden, DecoderCache* cache,
                               int64_t past_length) = 0;
  virtual torch::Tensor lm_logits(const torch::Tensor& hidden) = 0;
  // A cache holding the cross-attention keys/values of `encoder_hidden`.
  virtual DecoderCache make_cache(const torch::Tensor& encoder_hidden) = 0;
  virtual int64_t hidden_size() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual double initializer_range() const = 0;
  virtual void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
    hf_default_init(name, cpu, initializer_range(), gen);
  }
  // Checkpoint entries (relative names) that Hugging Face ignores on load: tied duplicates, legacy buffers.
  virtual bool ignored_on_load(const std::string& name) const { return false; }
  // Any parameter: its device and dtype are the decoder's.
  torch::Tensor any_parameter() const { return parameters().front(); }
};

}  // namespace tc
