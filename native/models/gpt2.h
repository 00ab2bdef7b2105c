// GPT-2 decoder with cross-attention (Hugging Face GPT2LMHeadModel with add_cross_attention).
// Names: transformer.{wte,wpe,h.N.{ln_1,attn.{c_attn,c_proj},ln_cross_attn,crossattention.{q_attn,c_attn,c_proj},
// ln_2,mlp.{c_fc,c_proj}},ln_f}; lm_head.weight is tied to wte (not a separate tensor) unless
// tie_word_embeddings is false.
#pragma once
#include <torch/torch.h>
#include <vector>
#include "models/config.h"
#include "models/layers.h"

namespace tc {

// Per-layer decoding state: self-attention keys/values of the tokens so far, and the cross-attention
// keys/values of the image features, computed once per image rather than at every step.
struct LayerCache {
  torch::Tensor k, v;              // [B, heads, T_past, d]
  torch::Tensor cross_k, cross_v;  // [B, heads, S, d]
};
using DecoderCache = std::vector<LayerCache>;

class GPT2AttentionImpl : public torch::nn::Module {
 public:
  GPT2AttentionImpl(const GPT2Config& c, int64_t layer_idx, bool is_cross);
  // Self-attention over x (appending to cache when given) or cross-attention of x over encoder states.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, LayerCache* cache);
  // Cross-attention keys/values for `encoder_hidden`, split into heads.
  std::pair<torch::Tensor, torch::Tensor> cross_kv(const torch::Tensor& encoder_hidden);

 private:
  torch::Tensor split_heads(const torch::Tensor& t) const;
  GPT2Config c_;
  int64_t layer_idx_;
  bool is_cross_;
  Conv1D c_attn{nullptr}, q_attn{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(GPT2Attention);

class GPT2BlockImpl : public torch::nn::Module {
 public:
  GPT2BlockImpl(const GPT2Config& c, int64_t layer_idx);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, LayerCache* cache);
  GPT2Attention attn{nullptr}, crossattention{nullptr};

 private:
  GPT2Config c_;
  torch::nn::LayerNorm ln_1{nullptr}, ln_cross_attn{nullptr}, ln_2{nullptr};
  Conv1D c_fc{nullptr}, mlp_proj{nullptr};
};
TORCH_MODULE(GPT2Block);

class GPT2LMHeadModelImpl : public torch::nn::Module {
 public:
  explicit GPT2LMHeadModelImpl(const GPT2Config& c);
  // Hidden states after ln_f for input_ids [B, T] starting at position `past_length`. With a cache,
  // self-attention keys/values are appended and cross-attention keys/values read from it.
  torch::Tensor hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden, DecoderCache* cache,
                       int64_t past_length);
  torch::Tensor lm_logits(const torch::Tensor& hidden);
  // Fill cache[i].cross_k/cross_v from the (projected) encoder states.
  DecoderCache make_cache(const torch::Tensor& encoder_hidden);
  const GPT2Config& config() const { return c_; }
  torch::Tensor wte_weight() const { return wte->weight; }

 private:
  GPT2Config c_;
  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  torch::nn::ModuleList h{nullptr};
  torch::nn::LayerNorm ln_f{nullptr};
  torch::Tensor lm_head_weight;  // undefined when tied
  // Inference on CPU: the lm_head weight transposed to [n_embd, vocab], made when first needed and again
  // whenever the weight changes (new storage or an in-place update bumps its version). Not a parameter.
  torch::Tensor lm_head_t_;
  const void* lm_head_t_src_ = nullptr;
  int64_t lm_head_t_version_ = -1;
  const torch::Tensor& lm_head_transposed(const torch::Tensor& w);
};
TORCH_MODULE(GPT2LMHeadModel);

}  // namespace tc
