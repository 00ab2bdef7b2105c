#include "io/checkpoint.h"

#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace tc {

NamedTensors module_state(const torch::nn::Module& m) {
  NamedTensors out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool ignored_on_load(const std::string& name, bool tied_lm_head) {
  if (tied_lm_head && name == "decoder.lm_head.weight") return true;
  // GPT-2's causal mask buffers, stored by older transformers versions.
  return name.find("decoder.transformer.h.") == 0 &&
         (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias") ||
          ends_with(name, ".crossattention.bias") || ends_with(name, ".crossattention.masked_bias"));
}

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

LoadReport load_state(torch::nn::Module& m, const NamedTensors& source, bool tied_lm_head) {
  torch::NoGradGuard no_grad;
  std::unordered_map<std::string, torch::Tensor> own;
  for (auto& [name, t] : module_state(m)) own.emplace(name, t);
  LoadReport report;
  std::set<std::string> loaded;
  for (const auto& [name, src] : source) {
    if (ignored_on_load(name, tied_lm_head)) continue;
    auto it = own.find(name);
    if (it == own.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    if (it->second.sizes() != src.sizes())
      throw std::invalid_argument("shape mismatch for " + name + ": the model has " + shape_str(it->second.sizes()) +
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + " could not be read as a torch.save state dict (" +
                             std::string(e.what()).substr(0, 300) +
                             "). Convert it to model.safetensors in Python: "
                             "`from safetensors.torch import save_file; save_file(torch.load(p), 'model.safetensors')`");
  }
  if (!value.isGenericDict()) throw std::runtime_error(path + " does not hold a state dict (a name -> tensor mapping)");
  NamedTensors out;
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor()) continue;
    out.emplace_back(kv.key().toStringRef(), kv.value().toTensor());
  }
  return out;
}

}  // namespace tc
