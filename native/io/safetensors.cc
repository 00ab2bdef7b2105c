#include "io/safetensors.h"

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

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit
constexpr int kMaxDepth = 16;

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error("invalid safetensors file: " + msg); }

// A small strict JSON reader for the header. Hand-written on purpose: the header is untrusted binary
// input, so the parser bounds its depth, never reads past `end`, and accepts only the value kinds a
// header can hold (no floats where integers are required, no duplicate keys).
struct Json {
  enum Kind { Null, Bool, Int, String, Array, Object } kind = Null;
  bool b = false;
  uint64_t i = 0;
  std::string s;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> fields;
};

class JsonReader {
 public:
  JsonReader(const char* p, const char* end) : p_(p), end_(end) {}

  Json document() {
    Json v = value(0);
    ws();
    if (p_ != end_) fail("trailing characters after the JSON header");
    return v;
  }

 private:
  const char* p_;
  const char* end_;

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  char peek() {
    if (p_ >= end_) fail("header JSON ends unexpectedly");
    return *p_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("header JSON: expected '") + c + "'");
    ++p_;
  }
  void literal(const char* word) {
    size_t n = std::strlen(word);
    if (size_t(end_ - p_) < n || std::memcmp(p_, word, n) != 0) fail("header JSON: bad literal");
    p_ += n;
  }

  Json value(int depth) {
    if (depth > kMaxDepth) fail("header JSON nests too deeply");
    ws();
    Json v;
    switch (peek()) {
      case '{': object(v, depth); break;
      case '[': array(v, depth); break;
      case '"': v.kind = Json::String; v.s = string(); break;
      case 't': literal("true"); v.kind = Json::Bool; v.b = true; break;
      case 'f': literal("false"); v.kind = Json::Bool; break;
      case 'n': literal("null"); break;
      default: v.kind = Json::Int; v.i = integer(); break;
    }
    return v;
  }

  void object(Json& v, int depth) {
    v.kind = Json::Object;
    expect('{');
    ws();
    if (peek() == '}') { ++p_; return; }
    std::set<std::string> seen;
    for (;;) {
      ws();
      std::string key = string();
      if (!seen.insert(key).second) fail("duplicate name \"" + key + "\" in header");
      ws();
      expect(':');
      v.fields.emplace_back(std::move(key), value(depth + 1));
      ws();
      if (peek() == ',') { ++p_; continue; }
      expect('}');
      return;
    }
  }

  void array(Json& v, int depth) {
    v.kind = Json::Array;
    expect('[');
    ws();
    if (peek() == ']') { ++p_; return; }
    for (;;) {
      v.items.push_back(value(depth + 1));
      ws();
      if (peek() == ',') { ++p_; continue; }
      expect(']');
      return;
    }
  }

  uint64_t integer() {
    if (peek() == '-') fail("negative number in header");
    if (peek() < '0' || peek() > '9') fail("header JSON: unexpected character");
    uint64_t n = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      if (n > (UINT64_MAX - 9) / 10) fail("number too large in header");
      n = n * 10 + uint64_t(*p_++ - '0');
    }
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) fail("non-integer number in header");
    return n;
  }

  void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
    else { out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
  }

  uint32_t hex4() {
    if (end_ - p_ < 4) fail("header JSON: truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
      else fail("header JSON: bad \\u escape");
    }
    return v;
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      char c = peek();
      ++p_;
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("header JSON: control character in string");
      if (c != '\\') { out += c; continue; }
      char e = peek();
      ++p_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') fail("header JSON: unpaired surrogate");
            p_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("header JSON: bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("header JSON: unpaired surrogate");
          }
          utf8(out, cp);
          break;
        }
        default: fail("header JSON: bad escape");
      }
    }
  }
};

uint64_t dtype_size(const std::string& d) {
  static const std::map<std::string, uint64_t> sizes = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                                                        {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
  auto it = sizes.find(d);
  if (it == sizes.end()) fail("unsupported dtype \"" + d + "\" (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
  return it->second;
}

SafetensorsEntry entry(const std::string& name, const Json& v) {
  if (v.kind != Json::Object) fail("entry \"" + name + "\" is not an object");
  SafetensorsEntry e;
  e.name = name;
  bool has_dtype = false, has_shape = false, has_offsets = false;
  for (const auto& [key, f] : v.fields) {
    if (key == "dtype") {
      if (f.kind != Json::String) fail("dtype of \"" + name + "\" is not a string");
      e.dtype = f.s;
      has_dtype = true;
    } else if (key == "shape") {
      if (f.kind != Json::Array) fail("shape of \"" + name + "\" is not an array");
      if (f.items.size() > 16) fail("shape of \"" + name + "\" has too many dimensions");
      for (const auto& d : f.items) {
        if (d.kind != Json::Int || d.i > (1ull << 48)) fail("shape of \"" + name + "\" has a bad dimension");
        e.shape.push_back(int64_t(d.i));
      }
      has_shape = true;
    } else if (key == "data_offsets") {
      if (f.kind != Json::Array || f.items.size() != 2 || f.items[0].kind != Json::Int || f.items[1].kind != Json::Int)
        fail("data_offsets of \"" + name + "\" is not [begin, end]");
      e.begin = f.items[0].i;
      e.end = f.items[1].i;
      has_offsets = true;
    } else {
      fail("unknown field \"" + key + "\" in entry \"" + name + "\"");
    }
  }
  if (!has_dtype || !has_shape || !has_offsets) fail("entry \"" + name + "\" lacks dtype, shape or data_offsets");
  if (e.end < e.begin) fail("data_offsets of \"" + name + "\" end before they begin");
  // element count times element size must equal the byte range, computed without overflow
  uint64_t bytes = dtype_size(e.dtype);
  for (auto d : e.shape) {
    if (d != 0 && bytes > UINT64_MAX / uint64_t(d)) fail("shape of \"" + name + "\" is absurdly large");
    bytes *= uint64_t(d);
  }
  if (bytes != e.end - e.begin)
    fail("\"" + name + "\" has " + std::to_string(e.end - e.begin) + " data bytes but its dtype and shape need " + std::to_string(bytes));
  return e;
}

}  // namespace

SafetensorsHeader parse_safetensors(const uint8_t* data, size_t size) {
  if (size < 8) fail("shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | data[k];
  if (n > kMaxHeader) fail("header length " + std::to_string(n) + " is larger than the 100 MB limit");
  if (n > size - 8) fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) + " bytes)");
  const char* begin = reinterpret_cast<const char*>(data + 8);
  Json root = JsonReader(begin, begin + n).document();
  if (root.kind != Json::Object) fail("header is not a JSON object");
  SafetensorsHeader h;
  h.data_start = 8 + n;
  for (const auto& [name, v] : root.fields) {
    if (name == "__metadata__") {
      if (v.kind != Json::Object) fail("__metadata__ is not an object");
      for (const auto& [k, s] : v.fields) {
        if (s.kind != Json::String) fail("__metadata__ value for \"" + k + "\" is not a string");
        h.metadata.emplace_back(k, s.s);
      }
      h.has_metadata = true;
      continue;
    }
    h.tensors.push_back(entry(name, v));
  }
  // The data section must be covered exactly: sorted by offset, no overlap, no hole, nothing past the end.
  std::sort(h.tensors.begin(), h.tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const uint64_t data_size = size - h.data_start;
  uint64_t pos = 0;
  for (const auto& e : h.tensors) {
    if (e.begin < pos) fail("data of \"" + e.name + "\" overlaps the previous tensor");
    if (e.begin > pos) fail("hole in the data section before \"" + e.name + "\"");
    if (e.end > data_size) fail("data of \"" + e.name + "\" runs past the end of the file");
    pos = e.end;
  }
  if (pos != data_size) fail("the data section has " + std::to_string(data_size - pos) + " trailing bytes no tensor uses");
  return h;
}

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
    throw std::runtime_error(path + ": " + e.what());
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
