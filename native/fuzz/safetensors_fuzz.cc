// libFuzzer target for the safetensors header/offset parser: any byte string must either parse into a
// header whose entries lie inside the buffer or throw std::runtime_error; never crash, hang or read
// out of bounds (run under AddressSanitizer by native/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    tc::SafetensorsHeader h = tc::parse_safetensors(data, size);
    for (const auto& e : h.tensors) {
      if (e.end < e.begin || h.data_start + e.end > size) std::abort();  // the parser promised bounds
      volatile uint8_t sink = 0;
      if (e.end > e.begin) sink = data[h.data_start + e.end - 1];
      (void)sink;
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
