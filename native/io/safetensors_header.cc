// safetensors header parser, free of torch so that the fuzz target (native/fuzz) builds in seconds.
#include "errors.h"
#include "io/safetensors_header.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

namespace tc {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit
constexpr int kMaxDepth = 16;

[[noreturn]] void fail(const std::string& msg) { throw FormatError("invalid safetensors file: " + msg); }

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

}  // namespace tc
