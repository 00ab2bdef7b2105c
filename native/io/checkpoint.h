// Name-for-name transfer between a module and a checkpoint (safetensors or torch.save zip).
#pragma once
#include <torch/torch.h>
#include <functional>
#include <set>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

namespace tc {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct LoadReport {
  std::vector<std::string> missing, unexpected;
};

// Every parameter and persistent buffer of the module under its full dotted name.
NamedTensors module_state(const torch::nn::Module& m);

// Copies checkpoint tensors one at a time into the module's tensors (converting dtype/device), so a reader can
// hand over each tensor as it reads it and drop it after. Names that Hugging Face ignores on load (`ignored`:
// tied duplicates, legacy buffers; the model knows them) are neither loaded nor reported. Shape mismatches
// throw, naming the tensor and both shapes.
class StateLoader {
 public:
  StateLoader(torch::nn::Module& m, std::function<bool(const std::string&)> ignored);
  void load(const std::string& name, const torch::Tensor& src);
  // What the module has that nothing loaded (sorted), and what was given that it does not have.
  LoadReport finish();

 private:
  std::unordered_map<std::string, torch::Tensor> own_;
  std::function<bool(const std::string&)> ignored_;
  std::set<std::string> loaded_;
  LoadReport report_;
};

// StateLoader over a whole set of tensors.
LoadReport load_state(torch::nn::Module& m, const NamedTensors& source, const std::function<bool(const std::string&)>& ignored);

// Reads a PyTorch `torch.save(state_dict)` zip (pytorch_model.bin): libtorch's zip reader for the archive,
// our own restricted unpickler (io/torch_pickle.h) for data.pkl, which only rebuilds tensors and
// containers and never runs code from the file. Broken archives throw FormatError.
NamedTensors read_torch_pickle(const std::string& path);

// The same file, streamed: `consume` gets each tensor as a view over its storage record, which is freed once no
// later tensor reads it, so a load holds one record at a time rather than a second copy of the model.
void for_each_torch_pickle_tensor(const std::string& path, const std::function<void(const std::string&, const torch::Tensor&)>& consume);

}  // namespace tc
