#include "io/checkpoint.h"

#include "errors.h"

#include <algorithm>
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

StateLoader::StateLoader(torch::nn::Module& m, std::function<bool(const std::string&)> ignored) : ignored_(std::move(ignored)) {
  for (auto& [name, t] : module_state(m)) own_.emplace(name, t);
}

void StateLoader::load(const std::string& name, const torch::Tensor& src) {
  if (ignored_(name)) return;
  auto it = own_.find(name);
  if (it == own_.end()) {
    report_.unexpected.push_back(name);
    return;
  }
  if (it->second.sizes() != src.sizes())
    throw ArgumentError("shape mismatch for " + name + ": the model has " + shape_str(it->second.sizes()) +
                        " but the checkpoint has " + shape_str(src.sizes()) + "; does config.json match the weights?");
  torch::NoGradGuard no_grad;
  it->second.copy_(src);
  loaded_.insert(name);
}

LoadReport StateLoader::finish() {
  LoadReport r = report_;
  for (const auto& [name, t] : own_)
    if (!loaded_.count(name)) r.missing.push_back(name);
  std::sort(r.missing.begin(), r.missing.end());
  return r;
}

LoadReport load_state(torch::nn::Module& m, const NamedTensors& source, const std::function<bool(const std::string&)>& ignored) {
  StateLoader loader(m, ignored);
  for (const auto& [name, src] : source) loader.load(name, src);
  return loader.finish();
}

void for_each_torch_pickle_tensor(const std::string& path, const std::function<void(const std::string&, const torch::Tensor&)>& consume) {
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
  std::vector<PickledTensor> entries;
  {
    auto [pkl, pkl_size] = read_record("data.pkl");
    try {
      entries = parse_torch_state_dict_pickle(static_cast<const uint8_t*>(pkl.get()), pkl_size);
    } catch (const std::runtime_error& e) {
      throw FormatError(path + ": " + e.what() + "." + hint);
    }
  }
  // Storages are shared between tensors (tied weights): each record is read once and kept until its last reader.
  std::map<std::string, int> readers;
  for (const auto& e : entries) ++readers[e.storage_key];
  std::map<std::string, std::pair<at::DataPtr, torch::Tensor>> open;  // the record's bytes, and a flat view of them
  for (const auto& e : entries) {
    const std::string record = "data/" + e.storage_key;
    const auto dtype = scalar_type_of(e.dtype);
    auto it = open.find(e.storage_key);
    if (it == open.end()) {
      if (!zip->hasRecord(record)) throw FormatError(path + ": the storage " + record + " of " + e.name + " is missing");
      auto [ptr, bytes] = read_record(record);
      const size_t elem = torch_pickle_element_size(e.dtype);
      if (bytes != size_t(e.storage_numel) * elem)
        throw FormatError(path + ": " + record + " holds " + std::to_string(bytes) + " bytes but " + e.name + " says " +
                          std::to_string(e.storage_numel) + " " + e.dtype + " elements");
      // A view over the record's buffer (allocated aligned by the zip reader); no copy.
      auto flat = bytes ? torch::from_blob(ptr.get(), {e.storage_numel}, torch::TensorOptions().dtype(dtype))
                        : torch::empty({0}, torch::TensorOptions().dtype(dtype));
      it = open.emplace(e.storage_key, std::make_pair(std::move(ptr), flat)).first;
    }
    const auto& flat = it->second.second;
    if (flat.scalar_type() != dtype) throw FormatError(path + ": " + e.name + " reads storage " + record + " as another dtype");
    // The view must stay inside its storage.
    int64_t last = e.storage_offset;
    bool empty = false;
    for (size_t d = 0; d < e.shape.size(); ++d) {
      if (e.shape[d] == 0) empty = true;
      else last += (e.shape[d] - 1) * e.stride[d];
    }
    if (!empty && last >= e.storage_numel)
      throw FormatError(path + ": " + e.name + " reaches past the end of its storage " + record);
    consume(e.name, empty ? torch::empty(e.shape, flat.options()) : flat.as_strided(e.shape, e.stride, e.storage_offset));
    if (--readers[e.storage_key] == 0) open.erase(it);
  }
}

NamedTensors read_torch_pickle(const std::string& path) {
  NamedTensors out;
  for_each_torch_pickle_tensor(path, [&](const std::string& name, const torch::Tensor& view) {
    out.emplace_back(name, view.clone(torch::MemoryFormat::Contiguous));
  });
  return out;
}

}  // namespace tc
