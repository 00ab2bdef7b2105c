#include "models/captioner.h"

#include <ATen/CPUGeneratorImpl.h>

#include "errors.h"
#include "models/loss.h"

namespace tc {

void CaptionModelImpl::init_weights(uint64_t seed, const std::set<std::string>* only) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& item : named_parameters(true)) {
    if (only && !only->count(item.key())) continue;
    torch::Tensor p = item.value();
    auto cpu = torch::empty(p.sizes(), torch::kFloat32);
    init_parameter(item.key(), cpu, gen);
    p.copy_(cpu);
  }
}

std::string CaptionModelImpl::vision_prefix() const {
  TORCH_CHECK(false, "this captioner does not name its vision tower (CaptionModelImpl::vision_prefix)");
}

torch::Tensor CaptionModelImpl::vision_forward(const torch::Tensor&) {
  TORCH_CHECK(false, "this captioner does not expose its vision tower (CaptionModelImpl::vision_forward)");
}

int64_t CaptionModelImpl::set_vision_frozen(bool frozen) {
  const std::string prefix = vision_prefix() + ".";
  int64_t n = 0;
  for (auto& item : named_parameters(true)) {
    if (item.key().rfind(prefix, 0) != 0) continue;
    item.value().set_requires_grad(!frozen);
    ++n;
  }
  TORCH_CHECK(n > 0, "no parameters under the vision tower prefix ", prefix);
  vision_frozen_ = frozen;
  return n;
}

torch::Tensor CaptionModelImpl::vision_hidden(const CaptionInputs& in) {
  if (in.vision_hidden.defined()) {
    TORCH_CHECK(!in.pixel_values.defined(), "both pixel_values and vision_hidden (lib/models checks)");
    return in.vision_hidden;
  }
  TORCH_CHECK(in.pixel_values.defined(), "neither pixel_values nor vision_hidden (lib/models checks)");
  if (!vision_frozen_) return vision_forward(in.pixel_values);
  torch::NoGradGuard no_grad;
  return vision_forward(in.pixel_values);
}

torch::Tensor CaptionModelImpl::encode_images(const torch::Tensor& pixel_values) {
  torch::NoGradGuard no_grad;
  std::shared_ptr<torch::nn::Module> tower;
  const std::string path = vision_prefix();
  for (const auto& m : named_modules("", false))
    if (m.key() == path) tower = m.value();
  TORCH_CHECK(tower, "no module named ", path);
  // Eval mode for this call only; the tower's mode (and its submodules', set together by train()) is restored.
  const bool was_training = tower->is_training();
  tower->eval();
  torch::Tensor out;
  try {
    out = vision_forward(pixel_values);
  } catch (...) {
    tower->train(was_training);
    throw;
  }
  tower->train(was_training);
  return out;
}

torch::Tensor CaptionModelImpl::shift_right(const torch::Tensor& labels) const {
  TORCH_CHECK(decoder_start_token_id_ >= 0, "decoder_start_token_id is not set on the model config; set it "
              "(for GPT-2: the tokenizer's bos/eos id, 50256)");
  TORCH_CHECK(pad_token_id_ >= 0, "pad_token_id is not set on the model config; set it (for GPT-2 usually the eos id, 50256)");
  using torch::indexing::None;
  using torch::indexing::Slice;
  auto shifted = torch::empty_like(labels);
  shifted.index_put_({Slice(), Slice(1, None)}, labels.index({Slice(), Slice(None, -1)}));
  shifted.select(1, 0).fill_(decoder_start_token_id_);
  return shifted.masked_fill(shifted == -100, pad_token_id_);
}

torch::Tensor CaptionModelImpl::text_ids(const CaptionInputs& in) const {
  TORCH_CHECK(in.labels.defined() || in.input_ids.defined(), "Expected labels or input ids");
  const int64_t B = batch_size(in), vocab = vocab_size();
  auto ids = in.input_ids.defined() ? in.input_ids : shift_right(in.labels);
  TORCH_CHECK(ids.dim() == 2 && ids.size(0) == B, "Expected text ids of shape [", B, ", T] (one row per image) but received ", ids.sizes());
  TORCH_CHECK(ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < vocab, "Expected token ids in [0, ", vocab,
              ") in the text inputs (or -100 for ignored label positions)");
  if (in.labels.defined()) {
    TORCH_CHECK(in.labels.sizes() == ids.sizes(), "Expected labels of shape ", ids.sizes(), " (as the text ids) but received ", in.labels.sizes());
    auto used = in.labels.masked_select(in.labels != -100);
    TORCH_CHECK(used.numel() == 0 || (used.min().item<int64_t>() >= 0 && used.max().item<int64_t>() < vocab),
                "Expected label ids in [0, ", vocab, ") or -100 (ignored) but labels hold ids outside that range; "
                "does the tokenizer match the model's vocab_size?");
  }
  if (in.attention_mask.defined())
    TORCH_CHECK(in.attention_mask.sizes() == ids.sizes(), "Expected attention_mask of shape ", ids.sizes(), " but received ",
                in.attention_mask.sizes());
  return ids;
}

int64_t CaptionModelImpl::loss_tokens(const CaptionInputs& in) const {
  using torch::indexing::None;
  using torch::indexing::Slice;
  const auto& y = shifts_labels(in) ? in.labels.index({Slice(), Slice(1, None)}) : in.labels;
  return y.ne(-100).sum().item<int64_t>();
}

torch::Tensor CaptionModelImpl::loss(const torch::Tensor& logits, const torch::Tensor& labels, bool shifted, double label_smoothing) const {
  using torch::indexing::None;
  using torch::indexing::Slice;
  auto l = shifted ? logits.index({Slice(), Slice(None, -1)}) : logits;
  auto y = shifted ? labels.index({Slice(), Slice(1, None)}) : labels;
  const int64_t vocab = logits.size(-1);
  return cross_entropy(l.reshape({-1, vocab}).to(torch::kFloat32), y.reshape({-1}), label_smoothing);
}

}  // namespace tc
