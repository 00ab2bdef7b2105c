// Data-parallel communication on PyTorch's own c10d: a TCPStore rendezvous (rank 0 hosts it) and a Gloo
// (CPU) or NCCL (CUDA) process group, behind a small interface that hides which libtorch built us (1.13's
// c10d::ProcessGroup and 2.x's c10d::Backend differ) and which backends it has.
//
// Collectives block the calling worker thread until they finish. They are serialized per process, so they
// run in the order the jobs issuing them run; every rank must issue the same collectives in the same order
// (the Trainer does: one training step, one barrier, ... awaited in turn). A failure or a timeout throws
// DistributedError naming the collective and this rank: the usual cause is a peer rank that exited.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tc {

struct ProcessGroupOptions {
  int64_t rank = 0, world_size = 1;
  std::string master_addr, backend;  // backend: "gloo" | "nccl"
  std::string device;                // where collectives run: "cpu" (Gloo) or this rank's "cuda:N" (NCCL)
  int64_t master_port = 0;
  std::chrono::milliseconds timeout{0};
};

enum class ReduceOp { kSum, kMin, kMax };

class ProcessGroup {
 public:
  // Rendezvous with the other ranks (waits up to the timeout for all of them) and builds the backend.
  static std::shared_ptr<ProcessGroup> connect(const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const { return options_.rank; }
  int64_t world_size() const { return options_.world_size; }
  const std::string& backend() const { return options_.backend; }
  torch::Device device() const { return device_; }

  // In place, one contiguous tensor at a time (callers flatten: see optim/data_parallel.h).
  void all_reduce(torch::Tensor& tensor, ReduceOp op = ReduceOp::kSum);
  void broadcast(torch::Tensor& tensor, int64_t root);
  // One tensor per rank, each the shape of `tensor` (the same on every rank).
  std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor);
  void barrier();

  // Which backends this build can create ("gloo", "nccl").
  static std::vector<std::string> available_backends();

 private:
  struct Backend;
  ProcessGroup(ProcessGroupOptions options, torch::Device device, std::unique_ptr<Backend> backend);
  [[noreturn]] void fail(const char* collective, const std::string& why) const;

  ProcessGroupOptions options_;
  torch::Device device_;
  std::unique_ptr<Backend> backend_;
  std::mutex order_;  // one collective at a time: see above
};

// The JS class ProcessGroup (lib/train/distributed.ts): connect() once, then collectives as jobs.
void InitProcessGroup(Napi::Env env, Napi::Object exports);
// The native group behind a JS ProcessGroup object (for trainStep's `process_group` option); throws
// ArgumentError when `value` is not a connected one.
std::shared_ptr<ProcessGroup> process_group_from_js(const Napi::Value& value);

}  // namespace tc
