// Tensors across the boundary.
//
// In: a JS object {dtype, shape, data: TypedArray}, wrapped with torch::from_blob (no copy); the job that
// uses it keeps the typed array alive (run_job's `keep`).
// Out: the worker turns every result into a HostTensor (detached, CPU, contiguous, one of the bridge's
// dtypes: all device copies and casts happen there), and the main thread only copies its bytes into a
// fresh typed array.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "addon/jobs.h"

namespace tc {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Wraps a JS tensor object without copying. Throws InvalidArgumentError "Expected X for Y" on bad input.
torch::Tensor tensor_from_js(const Napi::Value& value, const std::string& what);
// Wraps every tensor of a JS {name: tensor} object (no copies), in property order.
NamedTensors named_from_js(const Napi::Value& value, const std::string& what);

// kShared: the tensor may be live state (a parameter, an optimizer moment) and is copied unless the
// conversion already made a new tensor. kFresh: a result no other job can reach (logits, sequences).
enum class Ownership { kShared, kFresh };

// A tensor ready to be copied into JS: built on a worker thread by to_host, read on the main thread.
class HostTensor {
 public:
  const torch::Tensor& tensor() const { return t_; }

 private:
  explicit HostTensor(torch::Tensor t) : t_(std::move(t)) {}
  torch::Tensor t_;
  friend HostTensor to_host(const torch::Tensor& t, Ownership ownership);
};
using HostNamed = std::vector<std::pair<std::string, HostTensor>>;

// Worker thread: detach, move to the CPU, widen float16/bfloat16/float64 to float32, make contiguous.
HostTensor to_host(const torch::Tensor& t, Ownership ownership = Ownership::kShared);
HostNamed to_host(const NamedTensors& named, Ownership ownership = Ownership::kShared);

// Main thread: copies a host tensor into a JS {dtype, shape, data} object.
Napi::Object tensor_to_js(Napi::Env env, const HostTensor& t);
Napi::Object named_to_js(Napi::Env env, const HostNamed& named);

}  // namespace tc
