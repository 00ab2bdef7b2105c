// Name-for-name transfer between a module and a checkpoint (safetensors or torch.save zip).
#pragma once
#include <torch/torch.h>
#include <functional>
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

// Copies `source` into the module's tensors (converting dtype/device). Names that Hugging Face ignores on
// load (`ignored`: tied duplicates, legacy buffers; the model knows them) are neither loaded nor reported.
// Shape mismatches throw, naming the tensor and both shapes.
LoadReport load_state(torch::nn::Module& m, const NamedTensors& source, const std::function<bool(const std::string&)>& ignored);

// Reads a PyTorch `torch.save(state_dict)` zip (pytorch_model.bin): libtorch's zip reader for the archive,
// our own restricted unpickler (io/torch_pickle.h) for data.pkl, which only rebuilds tensors and
// containers and never runs code from the file. Broken archives throw FormatError.
NamedTensors read_torch_pickle(const std::string& path);

}  // namespace tc
