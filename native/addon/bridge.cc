#include "addon/bridge.h"

#include <cstring>

namespace tc {
namespace {

struct DTypeInfo {
  const char* name;
  torch::ScalarType scalar;
  napi_typedarray_type array;
};

const DTypeInfo kDTypes[] = {
    {"float32", torch::kFloat32, napi_float32_array},
    {"int64", torch::kInt64, napi_bigint64_array},
    {"int32", torch::kInt32, napi_int32_array},
    {"bool", torch::kBool, napi_uint8_array},
};

[[noreturn]] void type_error(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

}  // namespace

torch::Tensor tensor_from_js(const Napi::Value& value, const std::string& what) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) type_error(env, "Expected a tensor {dtype, shape, data} for " + what);
  auto obj = value.As<Napi::Object>();
  std::string dtype = obj.Get("dtype").IsString() ? obj.Get("dtype").As<Napi::String>().Utf8Value() : "";
  const DTypeInfo* info = nullptr;
  for (const auto& d : kDTypes)
    if (dtype == d.name) info = &d;
  if (!info) type_error(env, "Expected dtype float32, int64, int32 or bool for " + what + " but received '" + dtype + "'");
  if (!obj.Get("shape").IsArray()) type_error(env, "Expected an array shape for " + what);
  auto js_shape = obj.Get("shape").As<Napi::Array>();
  std::vector<int64_t> shape;
  int64_t numel = 1;
  for (uint32_t i = 0; i < js_shape.Length(); ++i) {
    Napi::Value d = js_shape.Get(i);
    if (!d.IsNumber() || d.As<Napi::Number>().Int64Value() < 0)
      type_error(env, "Expected non-negative integer dimensions for " + what);
    shape.push_back(d.As<Napi::Number>().Int64Value());
    numel *= shape.back();
  }
  Napi::Value data = obj.Get("data");
  if (!data.IsTypedArray()) type_error(env, "Expected a typed array as data for " + what);
  auto arr = data.As<Napi::TypedArray>();
  if (arr.TypedArrayType() != info->array)
    type_error(env, "Expected a typed array matching dtype " + dtype + " for " + what);
  if (static_cast<int64_t>(arr.ElementLength()) != numel)
    type_error(env, "Expected " + std::to_string(numel) + " elements for " + what + " but received " +
                        std::to_string(arr.ElementLength()));
  void* ptr = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  if (numel == 0) return torch::empty(shape, torch::TensorOptions().dtype(info->scalar));
  // Typed arrays from JS are naturally aligned for their element type, so from_blob is safe; the caller
  // keeps the array alive (Job::keep) for as long as the tensor is used.
  return torch::from_blob(ptr, shape, torch::TensorOptions().dtype(info->scalar));
}

Napi::Object tensor_to_js(Napi::Env env, const torch::Tensor& input) {
  torch::Tensor t = input.detach();
  if (t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kFloat16 || t.scalar_type() == torch::kFloat64)
    t = t.to(torch::kFloat32);
  t = t.to(torch::kCPU).contiguous();
  const DTypeInfo* info = nullptr;
  for (const auto& d : kDTypes)
    if (t.scalar_type() == d.scalar) info = &d;
  if (!info) throw std::runtime_error(std::string("cannot return a tensor of dtype ") + c10::toString(t.scalar_type()));
  size_t bytes = t.numel() * t.element_size();
  auto buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
  Napi::Value data;
  switch (info->array) {
    case napi_float32_array: data = Napi::Float32Array::New(env, t.numel(), buffer, 0); break;
    case napi_bigint64_array: data = Napi::BigInt64Array::New(env, t.numel(), buffer, 0); break;
    case napi_int32_array: data = Napi::Int32Array::New(env, t.numel(), buffer, 0); break;
    default: data = Napi::Uint8Array::New(env, t.numel(), buffer, 0); break;
  }
  auto shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) shape.Set(uint32_t(i), Napi::Number::New(env, double(t.size(i))));
  auto out = Napi::Object::New(env);
  out.Set("dtype", info->name);
  out.Set("shape", shape);
  out.Set("data", data);
  return out;
}

std::string error_message(const std::exception& e) {
  if (auto c10e = dynamic_cast<const c10::Error*>(&e)) return c10e->what_without_backtrace();
  return e.what();
}

double get_number(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("Expected a number for ") + key);
  return v.As<Napi::Number>().DoubleValue();
}

int64_t get_int(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("Expected an integer for ") + key);
  return v.As<Napi::Number>().Int64Value();
}

bool get_bool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string("Expected a boolean for ") + key);
  return v.As<Napi::Boolean>().Value();
}

std::string get_string(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("Expected a string for ") + key);
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> get_int_list(const Napi::Object& o, const char* key) {
  std::vector<int64_t> out;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), std::string("Expected an array of integers for ") + key);
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).As<Napi::Number>().Int64Value());
  return out;
}

Job::Job(Napi::Env env, std::function<Finisher()> work, std::shared_ptr<std::mutex> lock, std::vector<Napi::Value> keep)
    : Napi::AsyncWorker(env, "torch-caption"), work_(std::move(work)), lock_(std::move(lock)),
      deferred_(Napi::Promise::Deferred::New(env)) {
  for (auto& v : keep) keep_.push_back(Napi::Persistent(v));
}

void Job::Execute() {
  try {
    std::unique_lock<std::mutex> guard;
    if (lock_) guard = std::unique_lock<std::mutex>(*lock_);
    finish_ = work_();
  } catch (const std::exception& e) {
    SetError(error_message(e));
  } catch (...) {
    SetError("unknown native error");
  }
}

void Job::OnOK() {
  Napi::Env env = Env();
  try {
    deferred_.Resolve(finish_ ? finish_(env) : env.Undefined());
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (const std::exception& e) {
    deferred_.Reject(Napi::Error::New(env, error_message(e)).Value());
  }
}

void Job::OnError(const Napi::Error& e) { deferred_.Reject(e.Value()); }

Napi::Promise run_job(Napi::Env env, std::function<Finisher()> work, std::shared_ptr<std::mutex> lock,
                      std::vector<Napi::Value> keep) {
  auto* job = new Job(env, std::move(work), std::move(lock), std::move(keep));  // AsyncWorker deletes itself
  auto p = job->promise();
  job->Queue();
  return p;
}

}  // namespace tc
