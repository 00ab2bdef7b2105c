// Image preprocessing binding: validates arguments on the main thread, copies them into a plain struct,
// and runs the Pillow-exact resize + normalization (image/resample.h) as a job on the addon's image pool
// (addon/jobs.h): the same job mechanism as every other native call, on threads of its own so that the
// next batch is decoded while a training step holds the torch threads. The work never touches V8; the
// typed arrays it reads and writes stay alive through the job's `keep` references.
#include "addon/processing_binding.h"

#include <cmath>
#include <cstdint>
#include <exception>
#include <string>

#include "addon/jobs.h"
#include "image/resample.h"

namespace {

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return std::string("boolean ") + (v.As<Napi::Boolean>().Value() ? "true" : "false");
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "number NaN";
    std::string s = std::to_string(d);
    if (d == std::floor(d) && std::fabs(d) < 1e15) s = std::to_string(static_cast<long long>(d));
    return "number " + s;
  }
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return "string \"" + s + "\"";
  }
  if (v.IsTypedArray()) {
    const Napi::TypedArray t = v.As<Napi::TypedArray>();
    const char* name = "TypedArray";
    switch (t.TypedArrayType()) {
      case napi_uint8_array: name = "Uint8Array"; break;
      case napi_uint8_clamped_array: name = "Uint8ClampedArray"; break;
      case napi_int8_array: name = "Int8Array"; break;
      case napi_uint16_array: name = "Uint16Array"; break;
      case napi_int16_array: name = "Int16Array"; break;
      case napi_uint32_array: name = "Uint32Array"; break;
      case napi_int32_array: name = "Int32Array"; break;
      case napi_float32_array: name = "Float32Array"; break;
      case napi_float64_array: name = "Float64Array"; break;
      case napi_bigint64_array: name = "BigInt64Array"; break;
      case napi_biguint64_array: name = "BigUint64Array"; break;
      default: break;  // newer kinds (e.g. Float16Array) keep the generic name
    }
    return std::string(name) + " of length " + std::to_string(t.ElementLength());
  }
  if (v.IsArray()) return "array of length " + std::to_string(v.As<Napi::Array>().Length());
  if (v.IsFunction()) return "function";
  if (v.IsObject()) return "object";
  return "value";
}

[[noreturn]] void fail(Napi::Env env, const std::string& what, const std::string& for_name, const Napi::Value& got) {
  tc::throw_argument_error(env, "Expected " + what + " for " + for_name + " but received " + describe(got));
}

int get_dim(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) fail(env, "a positive integer", name, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= 1 << 30) || d != std::floor(d)) fail(env, "a positive integer", name, v);
  return static_cast<int>(d);
}

int get_filter(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) fail(env, "a PIL resampling filter 0..5", name, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 5) || d != std::floor(d) || !tc::is_valid_filter(static_cast<int>(d))) {
    fail(env, "a PIL resampling filter 0..5", name, v);
  }
  return static_cast<int>(d);
}

// Every field of NativePreprocessOptions is required: its defaults are the ImageProcessor's (lib/processing).
bool get_bool_field(Napi::Env env, const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) fail(env, "a boolean", std::string("opts.") + key, v);
  return v.As<Napi::Boolean>().Value();
}

void get_triple(Napi::Env env, const Napi::Object& o, const char* key, float out[3]) {
  const Napi::Value v = o.Get(key);
  const std::string name = std::string("opts.") + key;
  if (!v.IsArray() && !v.IsTypedArray()) fail(env, "an array of 3 finite numbers", name, v);
  const Napi::Object arr = v.As<Napi::Object>();
  const uint32_t len = v.IsArray() ? v.As<Napi::Array>().Length() : static_cast<uint32_t>(v.As<Napi::TypedArray>().ElementLength());
  if (len != 3) fail(env, "an array of 3 finite numbers", name, v);
  for (uint32_t i = 0; i < 3; i++) {
    const Napi::Value e = arr.Get(i);
    if (!e.IsNumber() || !std::isfinite(e.As<Napi::Number>().DoubleValue())) fail(env, "an array of 3 finite numbers", name, v);
    // float32(mean), float32(std), as numpy does when it casts them to the image dtype.
    out[i] = static_cast<float>(e.As<Napi::Number>().DoubleValue());
  }
}

Napi::Uint8Array get_rgb(Napi::Env env, const Napi::Value& v, int w, int h) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    fail(env, "a Uint8Array (or Buffer) of interleaved RGB bytes", "rgb", v);
  }
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  const size_t need = static_cast<size_t>(w) * static_cast<size_t>(h) * 3;
  if (a.ElementLength() != need) {
    fail(env, "a Uint8Array of length " + std::to_string(need) + " (" + std::to_string(w) + "x" + std::to_string(h) + "x3)", "rgb", v);
  }
  return a;
}

Napi::Value PreprocessRgb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int w = get_dim(env, info[1], "width");
  const int h = get_dim(env, info[2], "height");
  Napi::Uint8Array rgb = get_rgb(env, info[0], w, h);
  if (!info[3].IsObject() || info[3].IsArray()) fail(env, "an options object", "opts", info[3]);
  const Napi::Object o = info[3].As<Napi::Object>();
  const int out_w = get_dim(env, o.Get("outWidth"), "opts.outWidth");
  const int out_h = get_dim(env, o.Get("outHeight"), "opts.outHeight");
  const int filter = get_filter(env, o.Get("filter"), "opts.filter");
  tc::NormalizeParams p;
  p.do_rescale = get_bool_field(env, o, "doRescale");
  p.do_normalize = get_bool_field(env, o, "doNormalize");
  const Napi::Value rf = o.Get("rescaleFactor");
  if (!rf.IsNumber() || !std::isfinite(rf.As<Napi::Number>().DoubleValue())) fail(env, "a finite number", "opts.rescaleFactor", rf);
  p.rescale_factor = rf.As<Napi::Number>().DoubleValue();
  get_triple(env, o, "mean", p.mean);
  get_triple(env, o, "std", p.std);

  const size_t n = static_cast<size_t>(out_w) * static_cast<size_t>(out_h) * 3;
  Napi::Float32Array out;
  size_t offset = 0;
  if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()) {
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      fail(env, "a Float32Array", "out", info[4]);
    }
    out = info[4].As<Napi::Float32Array>();
    if (info.Length() > 5 && !info[5].IsUndefined()) {
      if (!info[5].IsNumber()) fail(env, "a non-negative integer", "outOffset", info[5]);
      const double d = info[5].As<Napi::Number>().DoubleValue();
      if (!(d >= 0) || d != std::floor(d)) fail(env, "a non-negative integer", "outOffset", info[5]);
      offset = static_cast<size_t>(d);
    }
    if (offset > out.ElementLength() || out.ElementLength() - offset < n) {
      throw Napi::RangeError::New(env, "Expected a Float32Array with at least " + std::to_string(offset + n) +
                                           " elements for out (offset " + std::to_string(offset) + " + 3x" +
                                           std::to_string(out_h) + "x" + std::to_string(out_w) + ") but received " +
                                           describe(info[4]));
    }
  } else {
    out = Napi::Float32Array::New(env, n);
  }
  const uint8_t* src = rgb.Data();
  float* dst = out.Data() + offset;
  return tc::run_job_into(env, [=] { tc::preprocess_rgb8(src, w, h, out_w, out_h, filter, p, dst); }, out, {rgb}, tc::Pool::kImage);
}

Napi::Value Resample(const Napi::CallbackInfo& info, bool reference) {
  Napi::Env env = info.Env();
  const int w = get_dim(env, info[1], "width");
  const int h = get_dim(env, info[2], "height");
  Napi::Uint8Array rgb = get_rgb(env, info[0], w, h);
  const int out_w = get_dim(env, info[3], "outWidth");
  const int out_h = get_dim(env, info[4], "outHeight");
  const int filter = get_filter(env, info[5], "filter");
  Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(out_w) * static_cast<size_t>(out_h) * 3);
  const uint8_t* src = rgb.Data();
  uint8_t* dst = out.Data();
  return tc::run_job_into(env, [=] {
    if (reference) tc::resample_rgb8_reference(src, w, h, dst, out_w, out_h, filter);
    else tc::resample_rgb8(src, w, h, dst, out_w, out_h, filter);
  }, out, {rgb}, tc::Pool::kImage);
}

Napi::Value ResampleRgb(const Napi::CallbackInfo& info) {
  return Resample(info, false);
}

Napi::Value ResampleRgbReference(const Napi::CallbackInfo& info) {
  return Resample(info, true);
}

}  // namespace

void InitProcessing(Napi::Env env, Napi::Object exports) {
  exports.Set("preprocessRgb", Napi::Function::New(env, PreprocessRgb, "preprocessRgb"));
  exports.Set("resampleRgb", Napi::Function::New(env, ResampleRgb, "resampleRgb"));
  exports.Set("resampleRgbReference", Napi::Function::New(env, ResampleRgbReference, "resampleRgbReference"));
}
