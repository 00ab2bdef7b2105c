// Where an architecture reads its config from: the complete object the JS layer built (lib/models/config.ts
// fills every field; see lib/native.ts). Abstract so that model files need neither Node nor N-API headers.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tc {

class ConfigSource {
 public:
  virtual ~ConfigSource() = default;
  // Each throws when the field is missing or has another type (a bug of the JS layer, not user input).
  virtual int64_t integer(const char* key) const = 0;
  virtual double number(const char* key) const = 0;
  virtual bool boolean(const char* key) const = 0;
  virtual std::string string(const char* key) const = 0;
  virtual std::vector<int64_t> integers(const char* key) const = 0;
  // A nested config object (GIT's and BLIP's vision and text parts, a VisionEncoderDecoder's encoder and decoder).
  virtual std::unique_ptr<ConfigSource> child(const char* key) const = 0;
};

}  // namespace tc
