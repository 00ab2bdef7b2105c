// Memory-mapped safetensors reading and atomic writing; the header parser is in safetensors_header.h.
#pragma once
#include <torch/torch.h>
#include <string>
#include <utility>
#include <vector>
#include "io/safetensors_header.h"

namespace tc {

// Read-only memory map of a safetensors file (RAII).
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  const SafetensorsHeader& header() const { return header_; }
  // A new CPU tensor holding a copy of the entry's data.
  torch::Tensor tensor(const SafetensorsEntry& e) const;
  // The entry as a tensor over the mapped file, no copy: valid while this object lives (to copy straight into
  // parameters). A copy when the data is not aligned for its dtype.
  torch::Tensor view(const SafetensorsEntry& e) const;

 private:
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  SafetensorsHeader header_;
};

// Writes tensors (any device; copied to CPU) atomically: to a temporary file beside `path`, fsync, rename.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata);

torch::ScalarType safetensors_scalar_type(const std::string& dtype);
std::string safetensors_dtype_name(torch::ScalarType t);

}  // namespace tc
