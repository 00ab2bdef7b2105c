#include "io/checkpoint.h"

#include "errors.h"

#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include <caffe2/serialize/inline_container.h>

#include "io/torch_pickle.h"

namespace tc {

NamedTensors module_state(const torch::nn::Module& m) {
  NamedTensors out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

namespace {

torch::ScalarType scalar_type_of(const std::string& dtype) {
  static const std::map<std::string, torch::ScalarType> m{
      {"float32", torch::kFloat32}, {"float16", torch::kFloat16}, {"bfloat16", torch::kBFloat16}, {"float64", torch::kFloat64},
      {"int64", torch::kInt64},     {"int32", torch::kInt32},     {"int16", torch::kInt16},       {"int8", torch::kInt8},
      {"uint8", torch::kUInt8},     {"bool", torch::kBool}};
  return m.at(dtype);
}

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

LoadReport load_state(torch::nn::Module& m, const NamedTensors& source, const std::function<bool(const std::string&)>& ignored) {
  torch::NoGradGuard no_grad;
  std::unordered_map<std::string, torch::Tensor> own;
  for (auto& [name, t] : module_state(m)) own.emplace(name, t);
  LoadReport report;
  std::set<std::string> loaded;
  for (const auto& [name, src] : source) {
    if (ignored(name)) continue;
    auto it = own.find(name);
    if (it == own.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    if (it->second.sizes() != src.sizes())
      throw ArgumentError("shape mismatch for " + name + ": the model has " + shape_str(it->second.sizes()) +
                                  " but the checkpoint has " + shape_str(src.sizes()) + "; does config.json match the weights?");
    it->second.copy_(src);
    loaded.insert(name);
  }
  for (const auto& [name, t] : own)
    if (!loaded.count(name)) report.missing.push_back(name);
  std::sort(report.missing.begin(), report.missing.end());
  return report;
}

NamedTensors read_torch_pickle(const std::string& path) {
  const std::string hint =
      " Convert it to model.safetensors in Python: `from safetensors.torch import save_file; "
      "save_file(torch.load(p), 'model.safetensors')`";
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw FormatError(path + " is not a torch.save zip archive (torch >= 1.6): " + e.what_without_backtrace() + "." + hint);
  }
  if (!zip->hasRecord("data.pkl")) throw FormatError(path + " has no data.pkl record: not a torch.save file." + hint);
  auto read_record = [&](const std::string& name) {
    try {
      return zip->getRecord(name);
    } catch (const c10::Error& e) {
      throw FormatError(path + ": cannot read the record " + name + " (" + e.what_without_backtrace() + ")");
    }
  };
  auto [pkl, pkl_size] = read_record("data.pkl");
  std::vector<PickledTensor> entries;
  try {
    entries = parse_torch_state_dict_pickle(static_cast<const uint8_t*>(pkl.get()), pkl_size);
  } catch (const std::runtime_error& e) {
    throw FormatError(path + ": " + e.what() + "." + hint);
  }
  // Storages are shared between tensors (tied weights): each record is read once.
  std::map<std::string, torch::Tensor> storages;
  NamedTensors out;
  for (const auto& e : entries) {
    const std::string record = "data/" + e.storage_key;
    auto it = storages.find(e.storage_key);
    if (it == storages.end()) {
      if (!zip->hasRecord(record)) throw FormatError(path + ": the storage " + record + " of " + e.name + " is missing");
      auto [ptr, bytes] = read_record(record);
      const size_t elem = torch_pickle_element_size(e.dtype);
      if (bytes != size_t(e.storage_numel) * elem)
        throw FormatError(path + ": " + record + " holds " + std::to_string(bytes) + " bytes but " + e.name + " says " +
                                 std::to_string(e.storage_numel) + " " + e.dtype + " elements");
      auto flat = torch::empty({e.storage_numel}, torch::TensorOptions().dtype(scalar_type_of(e.dtype)));
      if (bytes) std::memcpy(flat.data_ptr(), ptr.get(), bytes);
      it = storages.emplace(e.storage_key, flat).first;
    }
    const auto& flat = it->second;
    if (flat.scalar_type() != scalar_type_of(e.dtype)) throw FormatError(path + ": " + e.name + " reads storage " + record + " as another dtype");
    // The view must stay inside its storage.
    int64_t last = e.storage_offset;
    bool empty = false;
    for (size_t d = 0; d < e.shape.size(); ++d) {
      if (e.shape[d] == 0) empty = true;
      else last += (e.shape[d] - 1) * e.stride[d];
    }
    if (!empty && last >= e.storage_numel)
      throw FormatError(path + ": " + e.name + " reaches past the end of its storage " + record);
    auto t = empty ? torch::empty(e.shape, flat.options()) : flat.as_strided(e.shape, e.stride, e.storage_offset).clone(torch::MemoryFormat::Contiguous);
    out.emplace_back(e.name, t);
  }
  return out;
}

}  // namespace tc
