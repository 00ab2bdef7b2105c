// Data-parallel training over a ProcessGroup (addon/process_group.h), with DistributedDataParallel's
// semantics inside the one-call training step: replicas start from rank 0's state, and after the backward
// passes of every micro-batch the gradients are summed across ranks in flat buckets before clipping and AdamW,
// so that every rank applies the same update to the same weights.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace tc {

class ProcessGroup;

// Copies rank 0's parameters and buffers to every rank, a few flat buffers at a time.
void broadcast_state(ProcessGroup& group, const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes);

// Sum over ranks of per-step numbers (label-token counts, loss sums, flags), in float64.
std::vector<double> all_reduce_sums(ProcessGroup& group, const std::vector<double>& values);

// What the ranks agreed on after their backward passes.
struct ReducedStep {
  double loss_sum = 0;  // every rank's sum of (micro-batch loss x its label tokens)
  bool finite = true;   // false when any rank's loss was not finite: every rank skips the update
  int64_t bytes = 0;    // size of the gradient buffers all-reduced (each rank sends ~2(W-1)/W of it in a ring)
};

// Sums the gradients of `params` across ranks, in buckets of at most `bucket_bytes` (reduced-precision
// gradients are summed in float32). A gradient undefined on some ranks counts as zeros there; undefined on
// every rank it stays undefined, as it would in one process (AdamW then skips the parameter). When a rank's
// loss was not finite no gradient is exchanged: the step is skipped everywhere.
ReducedStep all_reduce_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& params, double loss_sum, bool finite,
                                 int64_t bucket_bytes);

// Compares a checksum of the bits of `tensors` across ranks; throws DistributedError naming the step when the
// replicas differ (a debug check: the update is meant to leave them bit-identical).
void check_replicas(ProcessGroup& group, const std::vector<torch::Tensor>& tensors, int64_t step);

}  // namespace tc
