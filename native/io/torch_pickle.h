// The data.pkl of a torch.save(state_dict) zip (pytorch_model.bin), read by a restricted unpickler.
//
// torch.save writes a protocol-2 pickle: an OrderedDict (with the state dict's `_metadata` as BUILD
// state) mapping names to tensors rebuilt by torch._utils._rebuild_tensor_v2 from persistent storage
// ids ('storage', torch.<Type>Storage, key, location, numel); the storage bytes are the zip records
// data/<key>. Only those globals are accepted, so no code from the file ever runs, and the parser
// never reads outside the buffer (it is a native/fuzz target). libtorch's own unpickler cannot read
// these files: it fails on the `_metadata` BUILD that every nn.Module state dict carries.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tc {

struct PickledTensor {
  std::string name;
  std::string storage_key;  // the record data/<storage_key>
  std::string dtype;        // float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool
  int64_t storage_numel = 0;
  int64_t storage_offset = 0;  // in elements
  std::vector<int64_t> shape, stride;
};

// Parses data.pkl held in [data, data + size). Throws std::runtime_error naming the problem. Entries
// whose value is not a tensor are skipped; a top level that is not a dict is an error.
std::vector<PickledTensor> parse_torch_state_dict_pickle(const uint8_t* data, size_t size);

// Bytes per element of a PickledTensor dtype (0 if unknown).
size_t torch_pickle_element_size(const std::string& dtype);

}  // namespace tc
