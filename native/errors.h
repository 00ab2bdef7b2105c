// The native exception kinds whose JS class is not NativeError (see addon/jobs.h for the mapping).
// Plain C++, no torch and no Node headers: the parsers and the fuzz targets use it too.
#pragma once
#include <stdexcept>

namespace tc {

// A bad argument that reached native code: rejects with InvalidArgumentError. The JS layer validates
// user input; this is the backstop.
struct ArgumentError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A file that exists but cannot be parsed (corrupt safetensors, hostile or broken pickle): FormatError.
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A collective of a process group failed or timed out (a peer rank died, the network broke): DistributedError.
struct DistributedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace tc
