#include "generate/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <cmath>
#include <limits>

namespace tc {
namespace {

using Seqs = std::vector<std::vector<int64_t>>;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// One decoding step for every row: feeds the tokens not fed yet (the whole prompt first, then the last
// token), returns next-token logits [N, vocab] (float32).
struct Stepper {
  CaptionModelImpl& model;
  torch::Tensor image_states;  // one row per sequence
  DecoderCache cache;
  torch::Device device;
  int64_t fed = 0;  // text tokens in the cache

  torch::Tensor step(const Seqs& seqs) {
    const int64_t len = int64_t(seqs[0].size()), T = len - fed;
    std::vector<int64_t> ids;
    ids.reserve(seqs.size() * T);
    for (const auto& s : seqs) ids.insert(ids.end(), s.end() - T, s.end());
    auto h = model.decode(torch::tensor(ids, torch::kLong).view({int64_t(seqs.size()), T}).to(device), image_states, cache, fed);
    fed = len;
    return model.lm_logits(h.select(1, -1)).to(torch::kFloat32);
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
GenerateResult greedy_or_sample(Stepper& st, Seqs seqs, const GenerateOptions& o) {
  const int64_t rows = int64_t(seqs.size());
  std::vector<bool> unfinished(rows, true);
  std::shared_ptr<at::Generator> gen;
  if (o.do_sample) gen = std::make_shared<at::Generator>(at::make_generator<at::CPUGeneratorImpl>(o.seed));
  for (int64_t cur_len = int64_t(seqs[0].size()); cur_len < o.max_length; ++cur_len) {
    auto scores = st.step(seqs);
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

GenerateResult beam_search(Stepper& st, Seqs seqs, const GenerateOptions& o) {
  const int64_t nb = o.num_beams, N = int64_t(seqs.size()), batch = N / nb;
  std::vector<BeamHyps> hyps(batch, BeamHyps{nb, o.length_penalty, o.early_stopping});
  std::vector<bool> done(batch, false);
  // only the first beam of each input is live at the start, so the first step does not pick duplicates
  std::vector<float> beam_scores(N, 0.f);
  for (int64_t i = 0; i < N; ++i)
    if (i % nb) beam_scores[i] = -1e9f;

  int64_t cur_len = int64_t(seqs[0].size());
  while (cur_len < o.max_length) {
    auto logits = st.step(seqs);
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

// The start rows, one per sequence: each image's prompt (or the start token) repeated `expand` times.
Seqs start_rows(const GenerateOptions& o, int64_t batch, int64_t expand) {
  Seqs rows;
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<int64_t> start = o.start_ids.empty() ? std::vector<int64_t>{o.decoder_start_token_id} : o.start_ids[b];
    for (int64_t j = 0; j < expand; ++j) rows.push_back(start);
  }
  return rows;
}

}  // namespace

GenerateResult generate(CaptionModelImpl& model, const torch::Tensor& pixel_values, const GenerateOptions& o) {
  validate(o);
  const int64_t B = pixel_values.size(0);
  TORCH_CHECK(o.start_ids.empty() || int64_t(o.start_ids.size()) == B, "generate: Expected one row of input_ids per image (",
              B, ") but received ", o.start_ids.size());
  for (const auto& row : o.start_ids)
    TORCH_CHECK(!row.empty() && row.size() == o.start_ids[0].size(), "generate: Expected input_ids rows of one length");
  // Inference mode: no autograd bookkeeping at all (cheaper than NoGradGuard for the many small ops of
  // a decoding loop); nothing created here is ever used for training.
  c10::InferenceMode inference;
  auto device = model.device();
  auto states = model.image_states(pixel_values.to(device));
  // One vision pass and one key/value projection of the image states per image; only then are the rows
  // repeated for beams / returned samples.
  auto cache = model.make_cache(states);
  const int64_t expand = o.num_beams > 1 ? o.num_beams : (o.do_sample ? o.num_return_sequences : 1);
  if (expand > 1) {
    auto repeat = [expand](torch::Tensor& t) {
      if (t.defined()) t = t.repeat_interleave(expand, 0);
    };
    // Cross-attention keys stay one copy per image: the decoders fold each image's beams into one query block.
    for (auto& layer : cache) {
      repeat(layer.k);
      repeat(layer.v);
    }
    repeat(states);
  }
  Stepper st{model, states, std::move(cache), device};
  auto seqs = start_rows(o, B, expand);
  return o.num_beams > 1 ? beam_search(st, std::move(seqs), o) : greedy_or_sample(st, std::move(seqs), o);
}

}  // namespace tc
