// Caption generation with Hugging Face transformers 4.9 semantics, the whole loop in C++, for every captioner:
// the vision tower runs once, what the text attends to of each image (cross-attention keys/values, GIT's image
// tokens' keys/values) is computed once per layer and image, the self-attention cache grows by one token per
// step, and beams reorder the cache with index_select. A prompt (start_ids) is fed in one step.
#pragma once
#include <torch/torch.h>
#include <cstdint>
#include <vector>
#include "models/captioner.h"

namespace tc {

// Every field is filled by lib/models/generation.ts (transformers' defaults and the checks on user
// values live there); -1 token ids mean "not set".
struct GenerateOptions {
  int64_t max_length{};  // counts the decoder start token, as in transformers
  int64_t min_length{};
  int64_t num_beams{};
  int64_t num_return_sequences{};
  int64_t no_repeat_ngram_size{};
  double length_penalty{};
  double repetition_penalty{};
  bool early_stopping{};
  bool do_sample{};
  double temperature{};
  int64_t top_k{};
  double top_p{};
  uint64_t seed{};
  int64_t decoder_start_token_id = -1, eos_token_id = -1, pad_token_id = -1;
  std::vector<std::vector<int64_t>> bad_words_ids;
  // The tokens every sequence starts with, one row per image, all of one length (HF's input_ids); empty:
  // [decoder_start_token_id] for every image.
  std::vector<std::vector<int64_t>> start_ids;
};

struct GenerateResult {
  torch::Tensor sequences;         // int64 [B * num_return_sequences, L], start tokens first, padded with pad
  torch::Tensor sequences_scores;  // float32 [B * num_return_sequences] (beam search only)
};

GenerateResult generate(CaptionModelImpl& model, const torch::Tensor& pixel_values, const GenerateOptions& o);

}  // namespace tc
