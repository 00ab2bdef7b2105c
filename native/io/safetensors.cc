#include "io/safetensors.h"

#include "errors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

namespace tc {
namespace {
[[noreturn]] void fail(const std::string& msg) { throw FormatError("invalid safetensors file: " + msg); }
}  // namespace

torch::ScalarType safetensors_scalar_type(const std::string& d) {
  if (d == "F32") return torch::kFloat32;
  if (d == "F16") return torch::kFloat16;
  if (d == "BF16") return torch::kBFloat16;
  if (d == "F64") return torch::kFloat64;
  if (d == "I64") return torch::kInt64;
  if (d == "I32") return torch::kInt32;
  if (d == "I16") return torch::kInt16;
  if (d == "I8") return torch::kInt8;
  if (d == "U8") return torch::kUInt8;
  if (d == "BOOL") return torch::kBool;
  fail("unsupported dtype " + d);
}

std::string safetensors_dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "F32";
    case torch::kFloat16: return "F16";
    case torch::kBFloat16: return "BF16";
    case torch::kFloat64: return "F64";
    case torch::kInt64: return "I64";
    case torch::kInt32: return "I32";
    case torch::kInt16: return "I16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kBool: return "BOOL";
    default: throw std::runtime_error(std::string("cannot write dtype ") + c10::toString(t) + " to safetensors");
  }
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot stat " + path);
  }
  size_ = size_t(st.st_size);
  if (size_ > 0) {
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) throw std::runtime_error("cannot map " + path + ": " + std::strerror(errno));
    map_ = static_cast<const uint8_t*>(m);
  } else {
    ::close(fd);
  }
  try {
    header_ = parse_safetensors(map_ ? map_ : reinterpret_cast<const uint8_t*>(""), size_);
  } catch (const std::exception& e) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
    map_ = nullptr;
    throw FormatError(path + ": " + e.what());
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

torch::Tensor SafetensorsFile::tensor(const SafetensorsEntry& e) const {
  auto t = torch::empty(e.shape, torch::TensorOptions().dtype(safetensors_scalar_type(e.dtype)));
  if (e.end > e.begin) std::memcpy(t.data_ptr(), map_ + header_.data_start + e.begin, e.end - e.begin);
  return t;
}

torch::Tensor SafetensorsFile::view(const SafetensorsEntry& e) const {
  const auto dtype = safetensors_scalar_type(e.dtype);
  const uint8_t* p = map_ + header_.data_start + e.begin;
  if (e.end <= e.begin || reinterpret_cast<uintptr_t>(p) % c10::elementSize(dtype) != 0) return tensor(e);
  return torch::from_blob(const_cast<uint8_t*>(p), e.shape, torch::TensorOptions().dtype(dtype));
}

namespace {

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += char(c); }
    else if (c < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
    else out += char(c);
  }
  return out + "\"";
}

// RAII file descriptor.
struct Fd {
  int fd;
  ~Fd() { if (fd >= 0) ::close(fd); }
};

void write_all(int fd, const void* p, size_t n, const std::string& path) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    }
    c += w;
    n -= size_t(w);
  }
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::vector<std::pair<std::string, torch::Tensor>> sorted;
  for (const auto& [name, t] : tensors) sorted.emplace_back(name, t.detach().to(torch::kCPU).contiguous());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i)
      header += (i ? "," : "") + json_escape(metadata[i].first) + ":" + json_escape(metadata[i].second);
    header += "}";
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const auto& t = sorted[i].second;
    if (i > 0 && sorted[i].first == sorted[i - 1].first) throw std::runtime_error("duplicate tensor name " + sorted[i].first);
    std::string shape;
    for (int64_t d = 0; d < t.dim(); ++d) shape += (d ? "," : "") + std::to_string(t.size(d));
    const uint64_t bytes = uint64_t(t.numel()) * t.element_size();
    header += ((i || !metadata.empty()) ? "," : "") + json_escape(sorted[i].first) + ":{\"dtype\":\"" +
              safetensors_dtype_name(t.scalar_type()) + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8) header += ' ';  // 8-byte aligned data, as the reference writer does
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    Fd fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (fd.fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
    try {
      uint8_t len[8];
      for (int k = 0; k < 8; ++k) len[k] = uint8_t((uint64_t(header.size()) >> (8 * k)) & 0xFF);
      write_all(fd.fd, len, 8, tmp);
      write_all(fd.fd, header.data(), header.size(), tmp);
      for (const auto& [name, t] : sorted) write_all(fd.fd, t.data_ptr(), size_t(t.numel()) * t.element_size(), tmp);
      if (::fsync(fd.fd) != 0) throw std::runtime_error("cannot fsync " + tmp + ": " + std::strerror(errno));
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
}

}  // namespace tc
