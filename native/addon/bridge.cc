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

const DTypeInfo* dtype_info(torch::ScalarType s) {
  for (const auto& d : kDTypes)
    if (d.scalar == s) return &d;
  return nullptr;
}

}  // namespace

torch::Tensor tensor_from_js(const Napi::Value& value, const std::string& what) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw_argument_error(env, "Expected a tensor {dtype, shape, data} for " + what);
  auto obj = value.As<Napi::Object>();
  std::string dtype = obj.Get("dtype").IsString() ? obj.Get("dtype").As<Napi::String>().Utf8Value() : "";
  const DTypeInfo* info = nullptr;
  for (const auto& d : kDTypes)
    if (dtype == d.name) info = &d;
  if (!info) throw_argument_error(env, "Expected dtype float32, int64, int32 or bool for " + what + " but received '" + dtype + "'");
  if (!obj.Get("shape").IsArray()) throw_argument_error(env, "Expected an array shape for " + what);
  auto js_shape = obj.Get("shape").As<Napi::Array>();
  std::vector<int64_t> shape;
  int64_t numel = 1;
  for (uint32_t i = 0; i < js_shape.Length(); ++i) {
    Napi::Value d = js_shape.Get(i);
    if (!d.IsNumber() || d.As<Napi::Number>().Int64Value() < 0)
      throw_argument_error(env, "Expected non-negative integer dimensions for " + what);
    shape.push_back(d.As<Napi::Number>().Int64Value());
    numel *= shape.back();
  }
  Napi::Value data = obj.Get("data");
  if (!data.IsTypedArray()) throw_argument_error(env, "Expected a typed array as data for " + what);
  auto arr = data.As<Napi::TypedArray>();
  if (arr.TypedArrayType() != info->array)
    throw_argument_error(env, "Expected a typed array matching dtype " + dtype + " for " + what);
  if (static_cast<int64_t>(arr.ElementLength()) != numel)
    throw_argument_error(env, "Expected " + std::to_string(numel) + " elements for " + what + " but received " +
                        std::to_string(arr.ElementLength()));
  void* ptr = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  if (numel == 0) return torch::empty(shape, torch::TensorOptions().dtype(info->scalar));
  // Typed arrays from JS are naturally aligned for their element type, so from_blob is safe; the caller
  // keeps the array alive (Job::keep) for as long as the tensor is used.
  return torch::from_blob(ptr, shape, torch::TensorOptions().dtype(info->scalar));
}

NamedTensors named_from_js(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw_argument_error(value.Env(), "Expected a {name: tensor} object for " + what);
  auto obj = value.As<Napi::Object>();
  NamedTensors out;
  auto names = obj.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    out.emplace_back(name, tensor_from_js(obj.Get(name), name));
  }
  return out;
}

HostTensor to_host(const torch::Tensor& input, Ownership ownership) {
  torch::Tensor t = input.detach();
  if (t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kFloat16 || t.scalar_type() == torch::kFloat64)
    t = t.to(torch::kFloat32);
  t = t.to(torch::kCPU).contiguous();
  // The main thread reads the bytes after the job has ended, while the strand's next job may already
  // update the model: a tensor that still shares memory with live state is copied here.
  if (ownership == Ownership::kShared && t.is_alias_of(input)) t = t.clone();
  TORCH_CHECK(dtype_info(t.scalar_type()), "cannot return a tensor of dtype ", t.scalar_type());
  return HostTensor(t);
}

HostNamed to_host(const NamedTensors& named, Ownership ownership) {
  HostNamed out;
  out.reserve(named.size());
  for (const auto& [name, t] : named) out.emplace_back(name, to_host(t, ownership));
  return out;
}

Napi::Object tensor_to_js(Napi::Env env, const HostTensor& host) {
  const torch::Tensor& t = host.tensor();
  const DTypeInfo* info = dtype_info(t.scalar_type());
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

Napi::Object named_to_js(Napi::Env env, const HostNamed& named) {
  auto out = Napi::Object::New(env);
  for (const auto& [name, t] : named) out.Set(name, tensor_to_js(env, t));
  return out;
}

}  // namespace tc
