// Plain config structs. Field names are the Hugging Face config.json keys. They have no defaults of their
// own: lib/models/config.ts fills every field (Hugging Face's defaults live there, once) and the binding
// (addon/model_binding.cc) copies the complete object in. Members are zero-initialized only so that a
// struct is never read uninitialized.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tc {

struct ViTConfig {
  int64_t hidden_size{}, num_hidden_layers{}, num_attention_heads{}, intermediate_size{};
  int64_t image_size{}, patch_size{}, num_channels{};
  double layer_norm_eps{}, hidden_dropout_prob{}, attention_probs_dropout_prob{}, initializer_range{};
  bool qkv_bias{};
  std::string hidden_act;
  // HF's ViTModel always builds its (unused) pooler inside a VisionEncoderDecoderModel: an architecture
  // fact, not a config.json field.
  static constexpr bool add_pooling_layer = true;
};

struct SwinConfig {
  int64_t image_size{}, patch_size{}, num_channels{}, embed_dim{}, window_size{};
  std::vector<int64_t> depths, num_heads;
  double mlp_ratio{}, layer_norm_eps{}, hidden_dropout_prob{}, attention_probs_dropout_prob{}, drop_path_rate{};
  double initializer_range{};
  bool qkv_bias{};
  std::string hidden_act;
  // Width after the last stage: every patch merging doubles the channels.
  int64_t hidden_size() const { return embed_dim << (depths.size() - 1); }
};

struct GPT2Config {
  int64_t vocab_size{}, n_positions{}, n_embd{}, n_layer{}, n_head{};
  int64_t n_inner{};  // resolved by the JS layer (config.json's null means 4 * n_embd)
  double initializer_range{}, layer_norm_epsilon{}, resid_pdrop{}, embd_pdrop{}, attn_pdrop{};
  std::string activation_function;
  bool add_cross_attention{}, scale_attn_weights{}, scale_attn_by_inverse_layer_idx{}, tie_word_embeddings{};
  int64_t inner() const { return n_inner; }
};

struct EncoderDecoderConfig {
  std::string encoder_type;  // "vit" | "swin"
  ViTConfig vit;
  SwinConfig swin;
  GPT2Config gpt2;
  // -1: not set (config.json's null)
  int64_t decoder_start_token_id = -1, pad_token_id = -1, eos_token_id = -1;
  int64_t encoder_hidden_size() const { return encoder_type == "swin" ? swin.hidden_size() : vit.hidden_size; }
};

}  // namespace tc
