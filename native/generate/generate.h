// Caption generation with Hugging Face transformers 4.9 semantics, the whole loop in C++:
// the encoder runs once, cross-attention keys/values are computed once per layer and image, the
// self-attention cache grows by one token per step, and beams reorder the cache with index_select.
#pragma once
#include <torch/torch.h>
#include <cstdint>
#include <vector>
#include "models/encoder_decoder.h"

namespace tc {

struct GenerateOptions {
  int64_t max_length = 20;  // counts the decoder start token, as in transformers
  int64_t min_length = 0;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  int64_t no_repeat_ngram_size = 0;
  double length_penalty = 1.0;
  double repetition_penalty = 1.0;
  bool early_stopping = false;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;
  double top_p = 1.0;
  uint64_t seed = 0;
  int64_t decoder_start_token_id = -1, eos_token_id = -1, pad_token_id = -1;
  std::vector<std::vector<int64_t>> bad_words_ids;
};

struct GenerateResult {
  torch::Tensor sequences;         // int64 [B * num_return_sequences, L], start token first, padded with pad
  torch::Tensor sequences_scores;  // float32 [B * num_return_sequences] (beam search only)
};

GenerateResult generate(VisionEncoderDecoder& model, const torch::Tensor& pixel_values, const GenerateOptions& o);

}  // namespace tc
