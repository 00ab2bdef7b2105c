#include "optim/data_parallel.h"

#include <string>

#include "addon/process_group.h"
#include "errors.h"

namespace tc {
namespace {

// The dtype a tensor travels in: reduced-precision floats as float32 (summed without extra rounding, and
// independent of which dtypes a backend's build supports), everything else as itself.
torch::ScalarType wire_dtype(torch::ScalarType t) {
  return t == torch::kBFloat16 || t == torch::kFloat16 ? torch::kFloat32 : t;
}

// Consecutive runs of `tensors` with one wire dtype and at most `cap` bytes (a tensor larger than the cap is a
// bucket of its own), as [begin, end) index pairs.
std::vector<std::pair<size_t, size_t>> buckets(const std::vector<torch::Tensor>& tensors, int64_t cap) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t begin = 0;
  int64_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto dt = wire_dtype(tensors[i].scalar_type());
    const int64_t b = tensors[i].numel() * int64_t(c10::elementSize(dt));
    const bool split = i > begin && (dt != wire_dtype(tensors[begin].scalar_type()) || bytes + b > cap);
    if (split) {
      out.emplace_back(begin, i);
      begin = i;
      bytes = 0;
    }
    bytes += b;
  }
  if (begin < tensors.size()) out.emplace_back(begin, tensors.size());
  return out;
}

int64_t numel_of(const std::vector<torch::Tensor>& ts, size_t begin, size_t end) {
  int64_t n = 0;
  for (size_t i = begin; i < end; ++i) n += ts[i].numel();
  return n;
}

// The flat wire buffer of one bucket, filled by `fill(i, slice)` for each of its tensors.
template <typename Fill>
torch::Tensor pack(const ProcessGroup& group, const std::vector<torch::Tensor>& ts, size_t begin, size_t end, Fill&& fill) {
  auto flat = torch::empty({numel_of(ts, begin, end)}, torch::TensorOptions().dtype(wire_dtype(ts[begin].scalar_type())).device(group.device()));
  int64_t off = 0;
  for (size_t i = begin; i < end; ++i) {
    const int64_t n = ts[i].numel();
    fill(i, flat.narrow(0, off, n));
    off += n;
  }
  return flat;
}

// `tensor`'s bits as int64 numbers (one per element), for checksums.
torch::Tensor bits_of(const torch::Tensor& t) {
  auto x = t.detach().contiguous().reshape({-1});
  switch (c10::elementSize(x.scalar_type())) {
    case 8: return x.view(torch::kInt64);
    case 4: return x.view(torch::kInt32).to(torch::kInt64);
    case 2: return x.view(torch::kInt16).to(torch::kInt64);
    default: return x.to(torch::kInt64);
  }
}

}  // namespace

void broadcast_state(ProcessGroup& group, const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  for (const auto& [begin, end] : buckets(tensors, bucket_bytes)) {
    auto flat = pack(group, tensors, begin, end, [&](size_t i, torch::Tensor slice) { slice.copy_(tensors[i].detach().reshape({-1})); });
    group.broadcast(flat, 0);
    int64_t off = 0;
    for (size_t i = begin; i < end; ++i) {
      auto t = tensors[i];
      const int64_t n = t.numel();
      t.detach().copy_(flat.narrow(0, off, n).view(t.sizes()));
      off += n;
    }
  }
}

std::vector<double> all_reduce_sums(ProcessGroup& group, const std::vector<double>& values) {
  auto t = torch::tensor(values, torch::kFloat64).to(group.device());
  group.all_reduce(t);
  t = t.cpu();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

ReducedStep all_reduce_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& params, double loss_sum, bool finite,
                                 int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  // One small exchange first: the loss, the non-finite flag and which parameters have gradients anywhere.
  std::vector<double> stats{loss_sum, finite ? 0.0 : 1.0};
  for (const auto& p : params) stats.push_back(p.grad().defined() ? 1.0 : 0.0);
  stats = all_reduce_sums(group, stats);
  ReducedStep r{stats[0], stats[1] == 0};
  if (!r.finite) return r;

  for (const auto& [begin, end] : buckets(params, bucket_bytes)) {
    auto flat = pack(group, params, begin, end, [&](size_t i, torch::Tensor slice) {
      const auto& g = params[i].grad();
      if (g.defined()) slice.copy_(g.reshape({-1}));
      else slice.zero_();
    });
    group.all_reduce(flat);
    r.bytes += flat.numel() * int64_t(flat.element_size());
    int64_t off = 0;
    for (size_t i = begin; i < end; ++i) {
      auto p = params[i];
      const int64_t n = p.numel();
      if (stats[2 + i] > 0) {
        // A view into the bucket when no conversion is needed: no copy back.
        p.mutable_grad() = flat.narrow(0, off, n).view(p.sizes()).to(p.device(), p.scalar_type());
      }
      off += n;
    }
  }
  return r;
}

void check_replicas(ProcessGroup& group, const std::vector<torch::Tensor>& tensors, int64_t step) {
  torch::NoGradGuard no_grad;
  // Two checksums: the plain sum of the bits, and one weighted by position (catches swapped values). Integer
  // sums wrap identically on every rank, whatever the order of addition.
  int64_t plain = 0, weighted = 0;
  for (const auto& t : tensors) {
    auto bits = bits_of(t.cpu());
    auto w = torch::arange(bits.numel(), torch::kInt64).remainder(65521).add(1);
    plain += bits.sum().item<int64_t>();
    weighted += (bits * w).sum().item<int64_t>();
  }
  auto lo = torch::tensor({plain, weighted}, torch::kInt64).to(group.device());
  auto hi = lo.clone();
  group.all_reduce(lo, ReduceOp::kMin);
  group.all_reduce(hi, ReduceOp::kMax);
  if (!torch::equal(lo.cpu(), hi.cpu()))
    throw DistributedError("the ranks' weights differ after step " + std::to_string(step) + " (rank " + std::to_string(group.rank()) +
                           "): data-parallel replicas must stay bit-identical. This is a bug in torch-caption or a rank that " +
                           "loaded different weights; please report it with the launch command.");
}

}  // namespace tc
