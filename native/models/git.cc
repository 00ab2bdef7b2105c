#include "models/git.h"

#include <limits>

#include "models/layers.h"

namespace tc {
namespace nn = torch::nn;

GitConfig GitConfig::from(const ConfigSource& s) {
  GitConfig c{CLIPVisionConfig::from(*s.child("vision")), BertConfig::from(*s.child("text"))};
  c.vision.post_layernorm_all_tokens = true;
  c.vision.scale_scores = true;
  return c;
}

GitForCausalLMImpl::GitForCausalLMImpl(const GitConfig& c) : c_(c) {
  TORCH_CHECK(!c.text.add_cross_attention && c.text.type_vocab_size == 0, "GIT text config (lib/models/architectures/git.ts fills it)");
  // GitModel's order: embeddings, image_encoder, encoder, visual_projection; then the head.
  auto git = register_module("git", container());
  embeddings = git->register_module("embeddings", BertEmbeddings(c.text, -1));
  image_encoder = git->register_module("image_encoder", CLIPVisionModel(c.vision));
  layers = register_bert_layers(*git, c.text);
  auto proj = git->register_module("visual_projection", container())->register_module("visual_projection", container());
  projection = proj->register_module("0", Linear(c.vision.hidden_size, c.text.hidden_size));
  // The projection's LayerNorm uses the vision tower's eps.
  projection_norm = proj->register_module("1", LayerNorm(nn::LayerNormOptions({c.text.hidden_size}).eps(c.vision.layer_norm_eps)));
  output = register_module("output", Linear(c.text.hidden_size, c.text.vocab_size));
}

torch::Tensor GitForCausalLMImpl::image_states(const torch::Tensor& pixel_values) {
  return projection_norm(projection(image_encoder->forward(pixel_values)));
}

torch::Tensor GitForCausalLMImpl::run_layers(torch::Tensor x, DecoderCache* cache, const torch::Tensor& mask) {
  for (size_t i = 0; i < layers->size(); ++i) x = layers[i]->as<BertLayer>()->forward(x, {}, cache ? &(*cache)[i] : nullptr, mask);
  return x;
}

torch::Tensor GitForCausalLMImpl::text_mask(int64_t N, int64_t past, int64_t T, const torch::TensorOptions& options) const {
  auto longs = torch::TensorOptions().dtype(torch::kLong).device(options.device());
  auto q = torch::arange(past, past + T, longs).unsqueeze(1);
  auto k = torch::arange(-N, past + T, longs).unsqueeze(0);  // image keys first, at negative text positions
  auto blocked = k > q;
  return torch::zeros(blocked.sizes(), options).masked_fill(blocked, -std::numeric_limits<float>::infinity());
}

CaptionOutput GitForCausalLMImpl::forward(const CaptionInputs& in) {
  CaptionOutput out;
  out.vision_hidden = vision_hidden(in);  // visual_projection runs on it either way
  auto image = projection_norm(projection(out.vision_hidden));
  auto ids = text_ids(in);
  const int64_t B = ids.size(0), N = image.size(1), T = ids.size(1);
  auto positions = torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(ids.device())).unsqueeze(0).expand({B, T});
  auto x = torch::cat({image, embeddings->forward(ids, positions, T - 1)}, 1);
  // HF's create_attention_mask over [N + T] keys: image rows see image columns only (-inf on text), text rows
  // see every image column and the text causally; a padding mask adds finfo.min in the text x text block.
  const auto opts = x.options();
  auto mask = torch::cat({torch::zeros({N, N}, opts), torch::full({N, T}, -std::numeric_limits<float>::infinity(), opts)}, 1);
  mask = torch::cat({mask, text_mask(N, 0, T, opts)}, 0).unsqueeze(0).unsqueeze(0);  // [1, 1, N + T, N + T]
  if (in.attention_mask.defined()) {
    auto pad = (in.attention_mask == 0).to(opts.dtype()).mul(std::numeric_limits<float>::lowest());  // [B, T]
    auto text_cols = torch::cat({torch::zeros({B, N}, opts), pad}, 1).view({B, 1, 1, N + T});
    auto text_rows = torch::cat({torch::zeros({N}, opts), torch::ones({T}, opts)}).view({1, 1, N + T, 1});
    mask = mask + text_rows * text_cols;
  }
  auto hidden = run_layers(x, nullptr, mask);
  out.logits = output(hidden);
  if (in.labels.defined()) {
    using torch::indexing::None;
    using torch::indexing::Slice;
    out.loss = loss(out.logits.index({Slice(), Slice(N, None)}), in.labels, shifts_labels(in), in.label_smoothing);
  }
  return out;
}

DecoderCache GitForCausalLMImpl::make_cache(const torch::Tensor& states) {
  DecoderCache cache(layers->size());
  run_layers(states, &cache, {});  // image tokens attend to every image token
  return cache;
}

torch::Tensor GitForCausalLMImpl::decode(const torch::Tensor& ids, const torch::Tensor& states, DecoderCache& cache, int64_t past) {
  const int64_t B = ids.size(0), T = ids.size(1), N = states.size(1);
  auto positions = torch::arange(past, past + T, torch::TensorOptions().dtype(torch::kLong).device(ids.device())).unsqueeze(0).expand({B, T});
  auto x = embeddings->forward(ids, positions, past + T - 1);
  // One new token sees every cached key; a prompt's tokens see the image and the text before them.
  torch::Tensor mask;
  if (T > 1) mask = text_mask(N, past, T, x.options()).unsqueeze(0).unsqueeze(0);
  return run_layers(x, &cache, mask);
}

void GitForCausalLMImpl::init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
  // GitPreTrainedModel._init_weights: LayerNorms 1 / 0, biases 0, everything else (vision embeddings included)
  // normal(0, initializer_range), the word embeddings' padding row 0.
  const bool norm = contains(name, "LayerNorm") || contains(name, "layer_norm") || contains(name, "layernorm") ||
                    contains(name, "layrnorm") || name.rfind("git.visual_projection.visual_projection.1.", 0) == 0;
  if (norm) cpu.fill_(ends_with(name, ".weight") ? 1.0 : 0.0);
  else if (ends_with(name, ".bias")) cpu.zero_();
  else cpu.normal_(0.0, c_.text.initializer_range, gen);
  if (name == "git.embeddings.word_embeddings.weight" && c_.text.pad_token_id >= 0 && c_.text.pad_token_id < cpu.size(0))
    cpu[c_.text.pad_token_id].zero_();
}

bool GitForCausalLMImpl::ignored_on_load(const std::string& name) const { return ends_with(name, "position_ids"); }

}  // namespace tc
