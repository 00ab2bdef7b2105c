#include "models/gpt2.h"
#include "models/layers.h"
#include "models/matmul.h"

#include <cmath>

namespace tc {
namespace nn = torch::nn;

GPT2Config GPT2Config::from(const ConfigSource& s) {
  GPT2Config g;
  g.vocab_size = s.integer("vocab_size");
  g.n_positions = s.integer("n_positions");
  g.n_embd = s.integer("n_embd");
  g.n_layer = s.integer("n_layer");
  g.n_head = s.integer("n_head");
  g.n_inner = s.integer("n_inner");
  g.layer_norm_epsilon = s.number("layer_norm_epsilon");
  g.resid_pdrop = s.number("resid_pdrop");
  g.embd_pdrop = s.number("embd_pdrop");
  g.attn_pdrop = s.number("attn_pdrop");
  g.initializer_range = s.number("initializer_range");
  g.activation_function = s.string("activation_function");
  g.add_cross_attention = s.boolean("add_cross_attention");
  g.scale_attn_weights = s.boolean("scale_attn_weights");
  g.scale_attn_by_inverse_layer_idx = s.boolean("scale_attn_by_inverse_layer_idx");
  g.tie_word_embeddings = s.boolean("tie_word_embeddings");
  return g;
}

void GPT2LMHeadModelImpl::init_parameter(const std::string& name, torch::Tensor& cpu, at::Generator& gen) const {
  if (!ends_with(name, "c_proj.weight")) return hf_default_init(name, cpu, c_.initializer_range, gen);
  cpu.normal_(0.0, c_.initializer_range / std::sqrt(2.0 * c_.n_layer), gen);
}

bool GPT2LMHeadModelImpl::ignored_on_load(const std::string& name) const {
  if (c_.tie_word_embeddings && name == "lm_head.weight") return true;
  return name.rfind("transformer.h.", 0) == 0 &&
         (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias") || ends_with(name, ".crossattention.bias") ||
          ends_with(name, ".crossattention.masked_bias"));
}

GPT2AttentionImpl::GPT2AttentionImpl(const GPT2Config& c, int64_t layer_idx, bool is_cross)
    : c_(c), layer_idx_(layer_idx), is_cross_(is_cross) {
  const int64_t e = c.n_embd;
  if (is_cross) {
    c_attn = register_module("c_attn", Conv1D(2 * e, e));
    q_attn = register_module("q_attn", Conv1D(e, e));
  } else {
    c_attn = register_module("c_attn", Conv1D(3 * e, e));
  }
  c_proj = register_module("c_proj", Conv1D(e, e));
}

torch::Tensor GPT2AttentionImpl::split_heads(const torch::Tensor& t) const {
  const int64_t H = c_.n_head;
  return t.view({t.size(0), t.size(1), H, t.size(2) / H}).permute({0, 2, 1, 3});
}

std::pair<torch::Tensor, torch::Tensor> GPT2AttentionImpl::cross_kv(const torch::Tensor& encoder_hidden) {
  auto kv = c_attn(encoder_hidden).split(c_.n_embd, 2);
  return {split_heads(kv[0]), split_heads(kv[1])};
}

torch::Tensor GPT2AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, LayerCache* cache) {
  torch::Tensor q, k, v;
  if (is_cross_) {
    q = split_heads(q_attn(x));
    if (cache && cache->cross_k.defined()) {
      k = cache->cross_k;
      v = cache->cross_v;
    } else {
      std::tie(k, v) = cross_kv(encoder_hidden);
    }
  } else {
    auto qkv = c_attn(x).split(c_.n_embd, 2);
    q = split_heads(qkv[0]);
    k = split_heads(qkv[1]);
    v = split_heads(qkv[2]);
    if (cache) {
      if (cache->k.defined()) {
        k = torch::cat({cache->k, k}, 2);
        v = torch::cat({cache->v, v}, 2);
      }
      cache->k = k;
      cache->v = v;
    }
  }
  // Beams of one image share its cached cross-attention keys (layers.h).
  const int64_t group = query_group(q, k);
  if (group > 1) q = fold_query_groups(q, group);
  auto w = batched_matmul(q, k.transpose(-1, -2));
  if (c_.scale_attn_weights) w = w / std::sqrt(double(v.size(-1)));
  if (c_.scale_attn_by_inverse_layer_idx) w = w / double(layer_idx_ + 1);
  const int64_t tq = q.size(2), tk = k.size(2);
  if (!is_cross_ && tq > 1) {
    // Causal mask as transformers applies it: masked scores become -1e4 (not -inf), query i sees keys
    // up to past + i.
    auto mask = torch::ones({tq, tk}, torch::TensorOptions().dtype(torch::kBool).device(w.device())).tril(tk - tq);
    w = torch::where(mask, w, torch::full({}, -1e4, w.options()));
  }
  w = torch::softmax(w, -1);
  w = torch::dropout(w, c_.attn_pdrop, is_training());
  auto out = batched_matmul(w, v);
  if (group > 1) out = unfold_query_groups(out, group);
  out = out.permute({0, 2, 1, 3}).contiguous();
  out = out.view({out.size(0), out.size(1), c_.n_embd});
  return torch::dropout(c_proj(out), c_.resid_pdrop, is_training());
}

GPT2BlockImpl::GPT2BlockImpl(const GPT2Config& c, int64_t layer_idx) : c_(c) {
  const int64_t e = c.n_embd;
  auto ln = [&](const char* name) {
    return register_module(name, LayerNorm(nn::LayerNormOptions({e}).eps(c.layer_norm_epsilon)));
  };
  ln_1 = ln("ln_1");
  attn = register_module("attn", GPT2Attention(c, layer_idx, false));
  if (c.add_cross_attention) {
    crossattention = register_module("crossattention", GPT2Attention(c, layer_idx, true));
    ln_cross_attn = ln("ln_cross_attn");
  }
  ln_2 = ln("ln_2");
  auto mlp = register_module("mlp", container());
  c_fc = mlp->register_module("c_fc", Conv1D(c.inner(), e));
  mlp_proj = mlp->register_module("c_proj", Conv1D(e, c.inner()));
}

torch::Tensor GPT2BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, LayerCache* cache) {
  auto h = attn->forward(ln_1(x), torch::Tensor(), cache) + x;
  if (crossattention) h = crossattention->forward(ln_cross_attn(h), encoder_hidden, cache) + h;
  auto m = mlp_proj(activation(c_fc(ln_2(h)), c_.activation_function));
  return torch::dropout(m, c_.resid_pdrop, is_training()) + h;
}

GPT2LMHeadModelImpl::GPT2LMHeadModelImpl(const GPT2Config& c) : c_(c) {
  auto transformer = register_module("transformer", container());
  wte = transformer->register_module("wte", nn::Embedding(c.vocab_size, c.n_embd));
  wpe = transformer->register_module("wpe", nn::Embedding(c.n_positions, c.n_embd));
  h = transformer->register_module("h", nn::ModuleList());
  for (int64_t i = 0; i < c.n_layer; ++i) h->push_back(GPT2Block(c, i));
  ln_f = transformer->register_module("ln_f", LayerNorm(nn::LayerNormOptions({c.n_embd}).eps(c.layer_norm_epsilon)));
  if (!c.tie_word_embeddings)
    lm_head_weight = register_module("lm_head", container())->register_parameter("weight", torch::empty({c.vocab_size, c.n_embd}));
}

torch::Tensor GPT2LMHeadModelImpl::hidden(const torch::Tensor& input_ids, const torch::Tensor& encoder_hidden,
                                          DecoderCache* cache, int64_t past_length) {
  const int64_t T = input_ids.size(1);
  TORCH_CHECK(past_length + T <= c_.n_positions, "Expected at most n_positions = ", c_.n_positions,
              " decoder positions but the sequence needs ", past_length + T,
              "; lower max_length or the caption max_length");
  auto pos = torch::arange(past_length, past_length + T, torch::TensorOptions().dtype(torch::kLong).device(input_ids.device()));
  auto x = wte(input_ids) + wpe(pos).unsqueeze(0);
  x = torch::dropout(x, c_.embd_pdrop, is_training());
  for (size_t i = 0; i < h->size(); ++i) x = h[i]->as<GPT2Block>()->forward(x, encoder_hidden, cache ? &(*cache)[i] : nullptr);
  return ln_f(x);
}

torch::Tensor GPT2LMHeadModelImpl::lm_logits(const torch::Tensor& hidden) {
  const auto& w = lm_head_weight.defined() ? lm_head_weight : wte->weight;
  // Decoding is bound by reading the [vocab, n_embd] weight. Inference on the CPU keeps a transposed
  // [n_embd, vocab] copy, the layout the thin kernel streams in one pass for every row (2-3x BLAS's gemv/gemm
  // here); training (grad mode) never makes it.
  if (hidden.dim() == 2 && !torch::GradMode::is_enabled() && w.device().is_cpu() && w.scalar_type() == torch::kFloat32) {
    const auto& wt = lm_head_transposed(w);
    return thin_gemm_applies(hidden, wt) ? thin_gemm(hidden, wt, torch::Tensor()) : torch::mm(hidden, wt);
  }
  return torch::matmul(hidden, w.t());
}

const torch::Tensor& GPT2LMHeadModelImpl::lm_head_transposed(const torch::Tensor& w) {
  if (!lm_head_t_.defined() || lm_head_t_src_ != w.data_ptr() || lm_head_t_version_ != w._version()) {
    lm_head_t_ = w.detach().t().contiguous();
    lm_head_t_src_ = w.data_ptr();
    lm_head_t_version_ = w._version();
  }
  return lm_head_t_;
}

DecoderCache GPT2LMHeadModelImpl::make_cache(const torch::Tensor& encoder_hidden) {
  return cross_attention_cache<GPT2BlockImpl>(h, encoder_hidden);
}

}  // namespace tc
