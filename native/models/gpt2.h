// GPT-2 decoder with cross-attention (Hugging Face GPT2LMHeadModel with add_cross_attention).
// Names: transformer.{wte,wpe,h.N.{ln_1,attn.{c_attn,c_proj},ln_cross_attn,crossattention.{q_attn,c_attn,c_proj},
// ln_2,mlp.{c_fc,c_proj}},ln_f}; lm_head.weight is tied to wte (not a separate tensor) unless
// tie_word_embeddings is false.
#pragma once
#include <torch/torch.h>
#include <vector>
#include "models/config_source.h"
#include "models/parts.h"
#include "models/layers.h"

namespace tc {

// Config fields are the Hugging Face config.json keys, with no defaults of their own (the JS layer fills them).
struct GPT2Config {
  int64_t vocab_size{}, n_positions{}, n_embd{}, n_layer{}, n_head{};
  int64_t n_inner{};  // resolved by the JS layer (config.json's null means 4 * n_embd)
  double initializer_range{}, layer_norm_epsilon{}, resid_pdrop{}, embd_pdrop{}, attn_pdrop{};
  std::string activation_function;
  bool add_cross_attention{}, scale_attn_weights{}, scale_attn_by_inverse_layer_idx{}, tie_word_embeddings{};
  int64_t inner() const { return n_inner; }

  // Every field, from the complete config the JS layer built (lib/models/config.ts has the defaults).
  static GPT2Config from(const ConfigSource& c);
};

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
  LayerNorm ln_1{nullptr}, ln_cross_attn{nullptr}, ln_2{nullptr};
  Conv1D c_fc{nullptr}, mlp_proj{nullptr};
};
TORCH_MODULE(GPT2Block);

class GPT2LMHeadModelImpl : public TextDecoderImpl {
 public:
  explicit GPT2LMHeadModelImpl(const GPT2Config& c);
  // Hidden states after ln_f (see TextDecoderImpl::hidden).
  torch::Tensor hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden, DecoderCache* cache,
                       int64_t past_length) override;
  torch::Tensor lm_logits(const torch::Tensor& hidden) override;
  DecoderCache make_cache(const torch::Tensor& encoder_hidden) override;
  int64_t hidden_size() const override { return c_.n_embd; }
  int64_t vocab_size() const override { return c_.vocab_size; }
  double initializer_range() const override { return c_.initializer_range; }
  // GPT-2 also scales the residual projections by 1/sqrt(2 * n_layer) (transformers' _init_weights).
  void init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const override;
  // A tied lm_head.weight, and the causal-mask buffers older transformers versions stored.
  bool ignored_on_load(const std::string& name) const override;

 private:
  GPT2Config c_;
  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  torch::nn::ModuleList h{nullptr};
  LayerNorm ln_f{nullptr};
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
