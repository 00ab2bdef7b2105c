#include "io/torch_pickle.h"
#include "errors.h"

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <unordered_map>

namespace tc {
namespace {

// Bounds that no real state dict reaches; they keep hostile inputs from exhausting memory.
constexpr size_t kMaxStack = 1 << 22;
constexpr size_t kMaxMemo = 1 << 22;
constexpr size_t kMaxString = 1 << 20;
constexpr size_t kMaxDims = 64;

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor, Mark } kind = None;
  int64_t i = 0;
  double f = 0;
  std::string s;  // Str; Global as "module.name"; Storage dtype
  std::vector<ValuePtr> items;                       // Tuple, List
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;   // Dict (insertion order)
  std::string key;                                   // Storage key
  PickledTensor tensor;                              // Tensor (name filled at the end)
};

// Owns every value made during one parse and unlinks them all at the end, so that cycles built through
// the memo cannot leak and deeply nested containers are not destroyed recursively.
class Arena {
 public:
  ~Arena() {
    for (auto& v : all_) {
      v->items.clear();
      v->dict.clear();
    }
  }
  ValuePtr make(Value::Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    all_.push_back(v);
    return v;
  }

 private:
  std::vector<ValuePtr> all_;
};

[[noreturn]] void fail(const std::string& what, size_t pos) {
  throw FormatError("data.pkl: " + what + " (at byte " + std::to_string(pos) + ")");
}

const std::map<std::string, std::string>& storage_dtypes() {
  static const std::map<std::string, std::string> m{
      {"torch.FloatStorage", "float32"}, {"torch.HalfStorage", "float16"}, {"torch.BFloat16Storage", "bfloat16"},
      {"torch.DoubleStorage", "float64"}, {"torch.LongStorage", "int64"},  {"torch.IntStorage", "int32"},
      {"torch.ShortStorage", "int16"},    {"torch.CharStorage", "int8"},   {"torch.ByteStorage", "uint8"},
      {"torch.BoolStorage", "bool"}};
  return m;
}

bool allowed_global(const std::string& g) {
  return g == "collections.OrderedDict" || g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_parameter" ||
         storage_dtypes().count(g) > 0;
}

class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  size_t pos() const { return p_; }
  bool done() const { return p_ >= n_; }
  uint8_t byte() {
    need(1);
    return d_[p_++];
  }
  uint64_t uint(size_t bytes) {  // little endian
    need(bytes);
    uint64_t v = 0;
    for (size_t b = 0; b < bytes; ++b) v |= uint64_t(d_[p_ + b]) << (8 * b);
    p_ += bytes;
    return v;
  }
  std::string bytes(uint64_t len) {
    if (len > kMaxString) fail("a string of " + std::to_string(len) + " bytes is longer than any state dict needs", p_);
    need(len);
    std::string s(reinterpret_cast<const char*>(d_ + p_), size_t(len));
    p_ += size_t(len);
    return s;
  }
  std::string line() {
    size_t start = p_;
    while (p_ < n_ && d_[p_] != '\n') {
      if (p_ - start > 256) fail("a GLOBAL name is too long", start);
      ++p_;
    }
    if (p_ >= n_) fail("truncated GLOBAL", start);
    std::string s(reinterpret_cast<const char*>(d_ + start), p_ - start);
    ++p_;
    return s;
  }

 private:
  void need(uint64_t k) const {
    if (k > n_ - p_) fail("truncated (needs " + std::to_string(k) + " more bytes)", p_);
  }
  const uint8_t* d_;
  size_t n_, p_ = 0;
};

int64_t as_int(const ValuePtr& v, const char* what, size_t pos) {
  if (v->kind != Value::Int) fail(std::string("expected an integer for ") + what, pos);
  return v->i;
}

std::vector<int64_t> int_tuple(const ValuePtr& v, const char* what, size_t pos) {
  if (v->kind != Value::Tuple && v->kind != Value::List) fail(std::string("expected a tuple for ") + what, pos);
  if (v->items.size() > kMaxDims) fail(std::string("too many dimensions in ") + what, pos);
  std::vector<int64_t> out;
  for (const auto& x : v->items) {
    const int64_t n = as_int(x, what, pos);
    if (n < 0) fail(std::string("negative value in ") + what, pos);
    out.push_back(n);
  }
  return out;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
ValuePtr rebuild_tensor(Arena& arena, const ValuePtr& args, size_t pos) {
  if (args->kind != Value::Tuple || args->items.size() < 4) fail("_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)", pos);
  const auto& storage = args->items[0];
  if (storage->kind != Value::Storage) fail("_rebuild_tensor_v2 got no storage", pos);
  auto t = arena.make(Value::Tensor);
  t->tensor.storage_key = storage->key;
  t->tensor.dtype = storage->s;
  t->tensor.storage_numel = storage->i;
  t->tensor.storage_offset = as_int(args->items[1], "storage_offset", pos);
  if (t->tensor.storage_offset < 0) fail("negative storage_offset", pos);
  t->tensor.shape = int_tuple(args->items[2], "size", pos);
  t->tensor.stride = int_tuple(args->items[3], "stride", pos);
  if (t->tensor.shape.size() != t->tensor.stride.size()) fail("size and stride differ in length", pos);
  return t;
}

}  // namespace

size_t torch_pickle_element_size(const std::string& dtype) {
  static const std::map<std::string, size_t> m{{"float32", 4}, {"float16", 2}, {"bfloat16", 2}, {"float64", 8}, {"int64", 8},
                                               {"int32", 4},   {"int16", 2},   {"int8", 1},     {"uint8", 1},   {"bool", 1}};
  auto it = m.find(dtype);
  return it == m.end() ? 0 : it->second;
}

std::vector<PickledTensor> parse_torch_state_dict_pickle(const uint8_t* data, size_t size) {
  Reader r(data, size);
  Arena arena;
  auto make = [&](Value::Kind k) { return arena.make(k); };
  std::vector<ValuePtr> stack;
  std::vector<size_t> marks;
  std::unordered_map<uint64_t, ValuePtr> memo;
  auto push = [&](ValuePtr v) {
    if (stack.size() >= kMaxStack) fail("stack too deep", r.pos());
    stack.push_back(std::move(v));
  };
  auto pop = [&]() {
    if (stack.empty() || (!marks.empty() && stack.size() <= marks.back())) fail("stack underflow", r.pos());
    auto v = std::move(stack.back());
    stack.pop_back();
    return v;
  };
  auto top = [&]() -> ValuePtr& {
    if (stack.empty() || (!marks.empty() && stack.size() <= marks.back())) fail("stack underflow", r.pos());
    return stack.back();
  };
  auto pop_mark = [&]() {  // items since the last MARK
    if (marks.empty()) fail("no MARK", r.pos());
    const size_t m = marks.back();
    marks.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack.begin() + long(m)), std::make_move_iterator(stack.end()));
    stack.resize(m);
    return items;
  };
  auto put = [&](uint64_t idx) {
    if (memo.size() >= kMaxMemo) fail("memo too large", r.pos());
    memo[idx] = top();
  };
  auto get = [&](uint64_t idx) {
    auto it = memo.find(idx);
    if (it == memo.end()) fail("memo key " + std::to_string(idx) + " not set", r.pos());
    push(it->second);
  };
  auto set_items = [&](const ValuePtr& d, std::vector<ValuePtr>& kv) {
    if (d->kind != Value::Dict) fail("SETITEM(S) on something that is not a dict", r.pos());
    if (kv.size() % 2) fail("SETITEMS with an odd number of items", r.pos());
    for (size_t k = 0; k < kv.size(); k += 2) d->dict.emplace_back(kv[k], kv[k + 1]);
  };
  auto str = [&](std::string s) {
    auto v = make(Value::Str);
    v->s = std::move(s);
    push(v);
  };
  auto integer = [&](int64_t i) {
    auto v = make(Value::Int);
    v->i = i;
    push(v);
  };

  while (true) {
    const size_t at = r.pos();
    if (r.done()) fail("ended without STOP", at);
    const uint8_t op = r.byte();
    switch (op) {
      case 0x80: r.byte(); break;        // PROTO
      case 0x95: r.uint(8); break;       // FRAME (protocol 4)
      case '(': marks.push_back(stack.size()); break;  // MARK
      case '.': {                        // STOP
        if (stack.size() != 1 || !marks.empty()) fail("STOP with " + std::to_string(stack.size()) + " values on the stack", at);
        const auto root = stack.back();
        if (root->kind != Value::Dict) fail("the top level is not a dict: not a state dict", at);
        std::vector<PickledTensor> out;
        for (const auto& [k, v] : root->dict) {
          if (k->kind != Value::Str || v->kind != Value::Tensor) continue;
          PickledTensor t = v->tensor;
          t.name = k->s;
          out.push_back(std::move(t));
        }
        return out;
      }
      case '0': pop(); break;                                 // POP
      case '1': pop_mark(); break;                            // POP_MARK
      case '2': push(top()); break;                           // DUP
      case 'N': push(make(Value::None)); break;               // NONE
      case 0x88: case 0x89: {                                 // NEWTRUE, NEWFALSE
        auto v = make(Value::Bool);
        v->i = op == 0x88;
        push(v);
        break;
      }
      case 'K': integer(int64_t(r.uint(1))); break;           // BININT1
      case 'M': integer(int64_t(r.uint(2))); break;           // BININT2
      case 'J': integer(int64_t(int32_t(uint32_t(r.uint(4))))); break;  // BININT
      case 0x8a: {                                            // LONG1
        const size_t n = r.byte();
        if (n > 8) fail("an integer wider than 64 bits", at);
        uint64_t v = n ? r.uint(n) : 0;
        if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
        integer(int64_t(v));
        break;
      }
      case 'G': {                                             // BINFLOAT (big endian)
        uint64_t bits = 0;
        for (int b = 0; b < 8; ++b) bits = (bits << 8) | r.byte();
        auto v = make(Value::Float);
        std::memcpy(&v->f, &bits, 8);
        push(v);
        break;
      }
      case 'X': str(r.bytes(r.uint(4))); break;               // BINUNICODE
      case 0x8c: str(r.bytes(r.uint(1))); break;              // SHORT_BINUNICODE
      case 0x8d: str(r.bytes(r.uint(8))); break;              // BINUNICODE8
      case 'T': str(r.bytes(r.uint(4))); break;               // BINSTRING
      case 'U': str(r.bytes(r.uint(1))); break;               // SHORT_BINSTRING
      case ')': push(make(Value::Tuple)); break;              // EMPTY_TUPLE
      case 't': {                                             // TUPLE
        auto v = make(Value::Tuple);
        v->items = pop_mark();
        push(v);
        break;
      }
      case 0x85: case 0x86: case 0x87: {                      // TUPLE1..3
        auto v = make(Value::Tuple);
        v->items.resize(size_t(op - 0x84));
        for (size_t k = v->items.size(); k-- > 0;) v->items[k] = pop();
        push(v);
        break;
      }
      case ']': push(make(Value::List)); break;               // EMPTY_LIST
      case 'l': {                                             // LIST
        auto v = make(Value::List);
        v->items = pop_mark();
        push(v);
        break;
      }
      case 'a': {                                             // APPEND
        auto x = pop();
        auto& l = top();
        if (l->kind != Value::List) fail("APPEND to something that is not a list", at);
        l->items.push_back(x);
        break;
      }
      case 'e': {                                             // APPENDS
        auto xs = pop_mark();
        auto& l = top();
        if (l->kind != Value::List) fail("APPENDS to something that is not a list", at);
        for (auto& x : xs) l->items.push_back(x);
        break;
      }
      case '}': push(make(Value::Dict)); break;               // EMPTY_DICT
      case 'd': {                                             // DICT
        auto kv = pop_mark();
        auto d = make(Value::Dict);
        set_items(d, kv);
        push(d);
        break;
      }
      case 's': {                                             // SETITEM
        std::vector<ValuePtr> kv(2);
        kv[1] = pop();
        kv[0] = pop();
        set_items(top(), kv);
        break;
      }
      case 'u': {                                             // SETITEMS
        auto kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case 'q': put(r.uint(1)); break;                        // BINPUT
      case 'r': put(r.uint(4)); break;                        // LONG_BINPUT
      case 0x94: put(memo.size()); break;                     // MEMOIZE
      case 'h': get(r.uint(1)); break;                        // BINGET
      case 'j': get(r.uint(4)); break;                        // LONG_BINGET
      case 'c': {                                             // GLOBAL
        const std::string module = r.line();
        const std::string name = r.line();
        const std::string g = module + "." + name;
        if (!allowed_global(g)) fail("refusing to load " + g + ": only a state dict of tensors can be read", at);
        auto v = make(Value::Global);
        v->s = g;
        push(v);
        break;
      }
      case 'Q': {                                             // BINPERSID
        auto pid = pop();
        if (pid->kind != Value::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Value::Str || pid->items[0]->s != "storage")
          fail("a persistent id that is not ('storage', type, key, location, numel)", at);
        const auto& type = pid->items[1];
        if (type->kind != Value::Global || !storage_dtypes().count(type->s)) fail("a storage of unknown type", at);
        if (pid->items[2]->kind != Value::Str) fail("a storage key that is not a string", at);
        auto v = make(Value::Storage);
        v->s = storage_dtypes().at(type->s);
        v->key = pid->items[2]->s;
        v->i = as_int(pid->items[4], "storage numel", at);
        if (v->i < 0) fail("negative storage numel", at);
        push(v);
        break;
      }
      case 'R': {                                             // REDUCE
        auto args = pop();
        auto fn = pop();
        if (fn->kind != Value::Global || args->kind != Value::Tuple) fail("REDUCE needs a global and an argument tuple", at);
        if (fn->s == "collections.OrderedDict") {
          if (!args->items.empty()) fail("OrderedDict with arguments", at);
          push(make(Value::Dict));
        } else if (fn->s == "torch._utils._rebuild_tensor_v2") {
          push(rebuild_tensor(arena, args, at));
        } else if (fn->s == "torch._utils._rebuild_parameter") {
          if (args->items.empty() || args->items[0]->kind != Value::Tensor) fail("_rebuild_parameter without a tensor", at);
          push(args->items[0]);
        } else {
          fail("cannot call " + fn->s, at);
        }
        break;
      }
      case 'b': {                                             // BUILD
        // The state dict's _metadata (per-module versions) and tensor state carry nothing we load.
        pop();
        top();
        break;
      }
      default:
        fail("unsupported pickle opcode 0x" + std::string(1, "0123456789abcdef"[op >> 4]) + std::string(1, "0123456789abcdef"[op & 15]), at);
    }
  }
}

}  // namespace tc
