#include "models/loss.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "models/matmul.h"
#include "models/parallel.h"

namespace tc {
namespace {

// Below this many elements a second thread costs more than it saves (measured: ~50 us to start and join one).
constexpr int64_t kMinParallelElements = int64_t(1) << 20;

// How many row chunks to run side by side: one unless ATen's own pool is single-threaded and the BLAS's is not
// (with several intra-op threads ATen already splits the rows itself). TORCH_CAPTION_LOSS_SPLIT=0 keeps one.
int64_t row_workers(const torch::Tensor& x) {
  if (!x.device().is_cpu() || x.numel() < kMinParallelElements || at::get_num_threads() > 1) return 1;
  if (const char* v = std::getenv("TORCH_CAPTION_LOSS_SPLIT"); v && std::string(v) == "0") return 1;
  return std::clamp<int64_t>(blas_threads(), 1, x.size(0));
}

struct LogSoftmaxRows : public torch::autograd::Function<LogSoftmaxRows> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input) {
    auto x = input.contiguous();
    auto out = torch::empty_like(x, at::MemoryFormat::Contiguous);
    for_chunks(x.size(0), row_workers(x), [&](int64_t b, int64_t e) {
      auto o = out.narrow(0, b, e - b);
      at::_log_softmax_out(o, x.narrow(0, b, e - b), 1, false);
    });
    ctx->save_for_backward({out});
    return out;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
    const auto out = ctx->get_saved_variables()[0];
    const auto g = grads[0].contiguous();
    auto gi = torch::empty_like(g, at::MemoryFormat::Contiguous);
    for_chunks(g.size(0), row_workers(g), [&](int64_t b, int64_t e) {
      auto o = gi.narrow(0, b, e - b);
      at::_log_softmax_backward_data_out(o, g.narrow(0, b, e - b), out.narrow(0, b, e - b), 1, out.scalar_type());
    });
    return {gi};
  }
};

// log_softmax over the classes of x [N, C] (and its gradient), rows split as above where that applies.
torch::Tensor log_softmax_rows(const torch::Tensor& x) {
  // Only float32 on the CPU goes its own way; the rest is ATen's call (the same numbers, ATen's threading).
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat32) return torch::log_softmax(x, 1);
  return LogSoftmaxRows::apply(x);
}

}  // namespace

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing) {
  namespace F = torch::nn::functional;
  TORCH_CHECK(logits.dim() == 2, "cross_entropy: expected logits [tokens, classes], got ", logits.sizes());
  // F::cross_entropy's composition, op for op: nll_loss of the log-probabilities, and with smoothing the mean over
  // kept tokens of -sum(log-probabilities), mixed as (1 - s) * nll + smooth * (s / classes).
  auto logp = log_softmax_rows(logits);
  auto nll = F::nll_loss(logp, labels, F::NLLLossFuncOptions().ignore_index(-100));
  if (label_smoothing == 0.0) return nll;
  const auto ignored = labels == -100;
  auto smooth = -logp.sum(1);
  smooth.masked_fill_(ignored, 0.0);
  const auto smooth_mean = smooth.sum() / (~ignored).sum();
  return (1 - label_smoothing) * nll + smooth_mean * (label_smoothing / double(logits.size(1)));
}

}  // namespace tc
