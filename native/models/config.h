// Plain config structs, filled from the validated JS config (lib/models/config.ts) in one place
// (addon/model_binding.cc). Field names are the Hugging Face config.json keys.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tc {

struct ViTConfig {
  int64_t hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12, intermediate_size = 3072;
  int64_t image_size = 224, patch_size = 16, num_channels = 3;
  double layer_norm_eps = 1e-12, hidden_dropout_prob = 0.0, attention_probs_dropout_prob = 0.0;
  bool qkv_bias = true;
  std::string hidden_act = "gelu";
  double initializer_range = 0.02;
  bool add_pooling_layer = true;  // HF's ViTModel always creates the (unused) pooler
};

struct SwinConfig {
  int64_t image_size = 224, patch_size = 4, num_channels = 3, embed_dim = 96, window_size = 7;
  std::vector<int64_t> depths{2, 2, 6, 2}, num_heads{3, 6, 12, 24};
  double mlp_ratio = 4.0, layer_norm_eps = 1e-5, hidden_dropout_prob = 0.0, attention_probs_dropout_prob = 0.0,
         drop_path_rate = 0.1;
  double initializer_range = 0.02;
  bool qkv_bias = true;
  std::string hidden_act = "gelu";
  int64_t hidden_size() const { return embed_dim << (depths.size() - 1); }
};

struct GPT2Config {
  int64_t vocab_size = 50257, n_positions = 1024, n_embd = 768, n_layer = 12, n_head = 12, n_inner = 0;
  double initializer_range = 0.02;
  double layer_norm_epsilon = 1e-5, resid_pdrop = 0.1, embd_pdrop = 0.1, attn_pdrop = 0.1;
  std::string activation_function = "gelu_new";
  bool add_cross_attention = true, scale_attn_weights = true, scale_attn_by_inverse_layer_idx = false;
  bool tie_word_embeddings = true;
  int64_t inner() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
};

struct EncoderDecoderConfig {
  std::string encoder_type;  // "vit" | "swin"
  ViTConfig vit;
  SwinConfig swin;
  GPT2Config gpt2;
  int64_t decoder_start_token_id = -1, pad_token_id = -1, eos_token_id = -1;
  int64_t encoder_hidden_size() const { return encoder_type == "swin" ? swin.hidden_size() : vit.hidden_size; }
};

}  // namespace tc
