#include "generate/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <cmath>
#include <limits>

namespace tc {
namespace {

using Seqs = std::vector<std::vector<int64_t>>;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// One decoding step for every row: feeds the last token, returns next-token logits [N, vocab] (float32).
struct Stepper {
  VisionEncoderDecoder& model;
  torch::Tensor encoder_states;  // projected, one row per sequence
  DecoderCache cache;
  torch::Device device;

  torch::Tensor step(const Seqs& seqs, int64_t past) {
    std::vector<int64_t> last(seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) last[i] = seqs[i].back();
    auto ids = torch::tensor(last, torch::kLong).view({-1, 1}).to(device);
    auto h = model->decoder->hidden(ids, encoder_states, &cache, past);
    return model->decoder->lm_logits(h.select(1, -1)).to(torch::kFloat32);
  }

  void reorder(const std::vector<int64_t>& rows) {
    auto idx = torch::tensor(rows, torch::kLong).to(device);
    for (auto& layer : cache) {
      layer.k = layer.k.index_select(0, idx);
      layer.v = layer.v.index_select(0, idx);
    }
  }
};

// Sets scores[row, token] = -inf for every (row, token) pair.
void ban(torch::Tensor& scores, const std::vector<int64_t>& rows, const std::vector<int64_t>& tokens) {
  if (rows.empty()) return;
  auto r = torch::tensor(rows, torch::kLong).to(scores.device());
  auto t = torch::tensor(tokens, torch::kLong).to(scores.device());
  scores.index_put_({r, t}, kNegInf);
}

// The logits processors transformers 4.9 builds from these options, in its order.
void process_logits(torch::Tensor& scores, const Seqs& seqs, const GenerateOptions& o) {
  const int64_t cur_len = int64_t(seqs[0].size());
  if (o.repetition_penalty != 1.0) {
    std::vector<int64_t> flat;
    for (auto& s : seqs) flat.insert(flat.end(), s.begin(), s.end());
    auto idx = torch::tensor(flat, torch::kLong).view({int64_t(seqs.size()), cur_len}).to(scores.device());
    auto g = scores.gather(1, idx);
    g = torch::where(g < 0, g * o.repetition_penalty, g / o.repetition_penalty);
    scores.scatter_(1, idx, g);
  }
  std::vector<int64_t> rows, toks;
  const int64_t n = o.no_repeat_ngram_size;
  if (n > 0 && cur_len + 1 >= n) {
    for (size_t r = 0; r < seqs.size(); ++r) {
      const auto& s = seqs[r];
      // every n-gram seen so far whose first n-1 tokens equal the last n-1 tokens bans its last token
      for (int64_t start = 0; start + n <= cur_len; ++start) {
        if (std::equal(s.begin() + start, s.begin() + start + n - 1, s.end() - (n - 1))) {
          rows.push_back(int64_t(r));
          toks.push_back(s[start + n - 1]);
        }
      }
    }
  }
  for (const auto& bad : o.bad_words_ids) {
    if (bad.empty() || (bad.size() == 1 && bad[0] == o.eos_token_id)) continue;  // 4.9 drops [eos]
    for (size_t r = 0; r < seqs.size(); ++r) {
      const auto& s = seqs[r];
      const size_t k = bad.size() - 1;
      if (k > s.size()) continue;
      if (std::equal(bad.begin(), bad.end() - 1, s.end() - k)) {
        rows.push_back(int64_t(r));
        toks.push_back(bad.back());
      }
    }
  }
  ban(scores, rows, toks);
  if (o.min_length > 0 && o.eos_token_id >= 0 && cur_len < o.min_length) scores.select(1, o.eos_token_id).fill_(kNegInf);
}

// Temperature, top-k and top-p warpers (4.9 order), for sampling.
torch::Tensor warp(torch::Tensor scores, const GenerateOptions& o) {
  if (o.temperature != 1.0) scores = scores / o.temperature;
  if (o.top_k > 0) {
    const int64_t k = std::min<int64_t>(std::max<int64_t>(o.top_k, 1), scores.size(-1));
    auto kth = std::get<0>(torch::topk(scores, k)).select(1, k - 1).unsqueeze(1);
    scores = scores.masked_fill(scores < kth, kNegInf);
  }
  if (o.top_p < 1.0) {
    auto sorted = torch::sort(scores, -1, true);
    auto cum = torch::softmax(std::get<0>(sorted), -1).cumsum(-1);
    auto remove = cum > o.top_p;
    // shift right so the token that crosses top_p is kept, and always keep the best one
    remove = torch::cat({torch::zeros_like(remove.narrow(1, 0, 1)), remove.narrow(1, 0, remove.size(1) - 1)}, 1);
    auto mask = remove.scatter(1, std::get<1>(sorted), remove);
    scores = scores.masked_fill(mask, kNegInf);
  }
  return scores;
}

torch::Tensor to_tensor(const Seqs& seqs, int64_t pad) {
  size_t len = 0;
  for (auto& s : seqs) len = std::max(len, s.size());
  auto out = torch::full({int64_t(seqs.size()), int64_t(len)}, pad, torch::kLong);
  auto a = out.accessor<int64_t, 2>();
  for (size_t i = 0; i < seqs.size(); ++i)
    for (size_t j = 0; j < seqs[i].size(); ++j) a[i][j] = seqs[i][j];
  return out;
}

// Greedy decoding and multinomial sampling share one loop: finished rows are padded, the loop stops
// when every row has produced eos or max_length is reached.
GenerateResult greedy_or_sample(Stepper& st, int64_t rows, const GenerateOptions& o) {
  Seqs seqs(rows, std::vector<int64_t>{o.decoder_start_token_id});
  std::vector<bool> unfinished(rows, true);
  std::shared_ptr<at::Generator> gen;
  if (o.do_sample) gen = std::make_shared<at::Generator>(at::make_generator<at::CPUGeneratorImpl>(o.seed));
  for (int64_t cur_len = 1; cur_len < o.max_length; ++cur_len) {
    auto scores = st.step(seqs, cur_len - 1);
    process_logits(scores, seqs, o);
    torch::Tensor next;
    if (o.do_sample) {
      auto probs = torch::softmax(warp(scores, o), -1).to(torch::kCPU);
      next = torch::multinomial(probs, 1, false, *gen).view({-1});
    } else {
      next = scores.argmax(-1).to(torch::kCPU);
    }
    auto nx = next.accessor<int64_t, 1>();
    bool any = false;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t tok = unfinished[r] ? nx[r] : o.pad_token_id;
      seqs[r].push_back(tok);
      if (tok == o.eos_token_id) unfinished[r] = false;
      any = any || unfinished[r];
    }
    if (!any) break;
  }
  return {to_tensor(seqs, o.pad_token_id), {}};
}

// transformers 4.9 BeamHypotheses: the n best finished hypotheses of one input.
struct BeamHyps {
  int64_t num_beams;
  double length_penalty;
  bool early_stopping;
  std::vector<std::pair<double, std::vector<int64_t>>> beams;
  double worst = 1e9;

  void add(const std::vector<int64_t>& hyp, double sum_logprobs) {
    const double score = sum_logprobs / std::pow(double(hyp.size()), length_penalty);
    if (int64_t(beams.size()) < num_beams || score > worst) {
      beams.emplace_back(score, hyp);
      if (int64_t(beams.size()) > num_beams) {
        // drop the worst (the earliest added among equal scores), the next worst becomes the bar
        std::vector<std::pair<double, size_t>> order;
        for (size_t i = 0; i < beams.size(); ++i) order.emplace_back(beams[i].first, i);
        std::sort(order.begin(), order.end());
        beams.erase(beams.begin() + order[0].second);
        worst = order[1].first;
      } else {
        worst = std::min(score, worst);
      }
    }
  }

  bool is_done(double best_sum_logprobs, int64_t cur_len) const {
    if (int64_t(beams.size()) < num_beams) return false;
    if (early_stopping) return true;
    return worst >= best_sum_logprobs / std::pow(double(cur_len), length_penalty);
  }
};

GenerateResult beam_search(Stepper& st, int64_t batch, const GenerateOptions& o) {
  const int64_t nb = o.num_beams, N = batch * nb;
  Seqs seqs(N, std::vector<int64_t>{o.decoder_start_token_id});
  std::vector<BeamHyps> hyps(batch, BeamHyps{nb, o.length_penalty, o.early_stopping});
  std::vector<bool> done(batch, false);
  // only the first beam of each input is live at the start, so the first step does not pick duplicates
  std::vector<float> beam_scores(N, 0.f);
  for (int64_t i = 0; i < N; ++i)
    if (i % nb) beam_scores[i] = -1e9f;

  int64_t cur_len = 1;
  while (cur_len < o.max_length) {
    auto logits = st.step(seqs, cur_len - 1);
    auto scores = torch::log_softmax(logits, -1);
    process_logits(scores, seqs, o);
    const int64_t V = scores.size(1);
    scores = scores + torch::tensor(beam_scores).to(scores.device()).unsqueeze(1);
    auto top = torch::topk(scores.view({batch, nb * V}), 2 * nb, 1, true, true);
    auto vals = std::get<0>(top).to(torch::kCPU);
    auto idx = std::get<1>(top).to(torch::kCPU);
    auto va = vals.accessor<float, 2>();
    auto ia = idx.accessor<int64_t, 2>();

    std::vector<float> next_scores(N, 0.f);
    std::vector<int64_t> next_tokens(N, o.pad_token_id), next_rows(N, 0);
    for (int64_t b = 0; b < batch; ++b) {
      if (done[b]) {
        for (int64_t j = 0; j < nb; ++j) next_rows[b * nb + j] = b * nb;
        continue;
      }
      int64_t beam = 0;
      for (int64_t rank = 0; rank < 2 * nb; ++rank) {
        const int64_t token = ia[b][rank] % V, row = b * nb + ia[b][rank] / V;
        const float score = va[b][rank];
        if (token == o.eos_token_id) {
          if (rank >= nb) continue;  // an eos outside the top num_beams does not finish a hypothesis
          hyps[b].add(seqs[row], score);
        } else {
          next_scores[b * nb + beam] = score;
          next_tokens[b * nb + beam] = token;
          next_rows[b * nb + beam] = row;
          ++beam;
        }
        if (beam == nb) break;
      }
      done[b] = done[b] || hyps[b].is_done(va[b][0], cur_len);
    }
    Seqs next(N);
    for (int64_t i = 0; i < N; ++i) {
      next[i] = seqs[next_rows[i]];
      next[i].push_back(next_tokens[i]);
    }
    seqs.swap(next);
    st.reorder(next_rows);
    beam_scores = next_scores;
    ++cur_len;
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
  }

  // finalize: unfinished inputs add their running beams; return the best hypotheses per input
  for (int64_t b = 0; b < batch; ++b) {
    if (done[b]) continue;
    for (int64_t j = 0; j < nb; ++j) hyps[b].add(seqs[b * nb + j], beam_scores[b * nb + j]);
  }
  Seqs best;
  std::vector<float> best_scores;
  for (auto& h : hyps) {
    auto sorted = h.beams;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (int64_t j = 0; j < o.num_return_sequences; ++j) {
      best.push_back(sorted.back().second);
      best_scores.push_back(float(sorted.back().first));
      sorted.pop_back();
    }
  }
  for (auto& s : best)
    if (int64_t(s.size()) < o.max_length) s.push_back(o.eos_token_id);  // hypotheses end with eos
  return {to_tensor(best, o.pad_token_id), torch::tensor(best_scores)};
}

// Invariants only: the user-facing checks, with their messages, are validateGenerateOptions's.
void validate(const GenerateOptions& o) {
  TORCH_CHECK(o.decoder_start_token_id >= 0, "generate: decoder_start_token_id is not set (model config or option)");
  TORCH_CHECK(o.max_length >= 1, "generate: Expected max_length >= 1 but received ", o.max_length);
  TORCH_CHECK(o.num_beams >= 1, "generate: Expected num_beams >= 1 but received ", o.num_beams);
  TORCH_CHECK(o.num_return_sequences >= 1, "generate: Expected num_return_sequences >= 1");
  TORCH_CHECK(o.num_beams == 1 || !o.do_sample, "generate: beam sampling (num_beams > 1 with do_sample) is not supported yet");
  TORCH_CHECK(o.num_return_sequences <= o.num_beams || o.do_sample, "generate: num_return_sequences (", o.num_return_sequences,
              ") must be <= num_beams (", o.num_beams, ") for beam search, or 1 for greedy search");
  TORCH_CHECK(o.temperature > 0, "generate: Expected temperature > 0 but received ", o.temperature);
  TORCH_CHECK(o.top_p > 0 && o.top_p <= 1, "generate: Expected top_p in (0, 1] but received ", o.top_p);
  TORCH_CHECK(o.pad_token_id >= 0 || o.eos_token_id < 0, "generate: pad_token_id is not set; set it (GPT-2: eos, 50256)");
}

}  // namespace

GenerateResult generate(VisionEncoderDecoder& model, const torch::Tensor& pixel_values, const GenerateOptions& opts) {
  const GenerateOptions& o = opts;
  validate(o);
  // Inference mode: no autograd bookkeeping at all (cheaper than NoGradGuard for the many small ops of
  // a decoding loop); nothing created here is ever used for training.
  c10::InferenceMode inference;
  const int64_t B = pixel_values.size(0);
  auto device = model->decoder->any_parameter().device();
  auto enc = model->project(model->encode(pixel_values.to(device)));
  // One encoder pass and one cross-attention key/value projection per image; only then are the rows
  // repeated for beams / returned samples.
  auto cache = model->decoder->make_cache(enc);
  const int64_t expand = o.num_beams > 1 ? o.num_beams : (o.do_sample ? o.num_return_sequences : 1);
  if (expand > 1) {
    for (auto& layer : cache) {
      if (!layer.cross_k.defined()) continue;
      layer.cross_k = layer.cross_k.repeat_interleave(expand, 0);
      layer.cross_v = layer.cross_v.repeat_interleave(expand, 0);
    }
    enc = enc.repeat_interleave(expand, 0);
  }
  Stepper st{model, enc, std::move(cache), device};
  return o.num_beams > 1 ? beam_search(st, B, o) : greedy_or_sample(st, B * expand, o);
}

}  // namespace tc
