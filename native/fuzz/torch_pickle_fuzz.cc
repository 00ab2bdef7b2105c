// libFuzzer target for the restricted unpickler of pytorch_model.bin's data.pkl: any byte string must
// either give tensor entries with a known dtype and matching size/stride ranks, or throw
// std::runtime_error; never crash, hang, leak (memo cycles) or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "io/torch_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    for (const auto& t : tc::parse_torch_state_dict_pickle(data, size)) {
      if (tc::torch_pickle_element_size(t.dtype) == 0 || t.shape.size() != t.stride.size() || t.storage_offset < 0 ||
          t.storage_numel < 0)
        std::abort();  // the parser promised these
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
