// safetensors: https://github.com/huggingface/safetensors format.
//   u64 little-endian N | N bytes of JSON header | data
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (relative to the data start),
// plus an optional "__metadata__" string map. The parser is strict: it never reads outside the given
// buffer and rejects anything a well-formed file cannot contain (it is the target of native/fuzz).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tc {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // relative to the data section
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;  // in file order of their data
  std::vector<std::pair<std::string, std::string>> metadata;
  bool has_metadata = false;
  uint64_t data_start = 0;  // absolute offset of the data section
};

// Parses and validates the header of a safetensors file held in [data, data + size). Throws
// std::runtime_error naming the problem. Does not touch the tensor bytes.
SafetensorsHeader parse_safetensors(const uint8_t* data, size_t size);

}  // namespace tc
