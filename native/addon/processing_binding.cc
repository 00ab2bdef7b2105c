// Image preprocessing binding: validates arguments on the main thread, copies them into a plain struct,
// and runs the Pillow-exact resize + normalization (io/resample.h) on the libuv thread pool. The worker
// never touches V8; the typed arrays it reads and writes are kept alive by persistent references.
#include "addon/processing_binding.h"

#include <cmath>
#include <cstdint>
#include <exception>
#include <string>

#include "io/resample.h"

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
  throw Napi::TypeError::New(env, "Expected " + what + " for " + for_name + " but received " + describe(got));
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

bool get_bool_field(Napi::Env env, const Napi::Object& o, const char* key, bool fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) fail(env, "a boolean", std::string("opts.") + key, v);
  return v.As<Napi::Boolean>().Value();
}

void get_triple(Napi::Env env, const Napi::Object& o, const char* key, float out[3], float fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) {
    out[0] = out[1] = out[2] = fallback;
    return;
  }
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

class PreprocessWorker : public Napi::AsyncWorker {
 public:
  PreprocessWorker(Napi::Env env, Napi::Uint8Array rgb, int w, int h, int out_w, int out_h, int filter,
                   const tc::NormalizeParams& params, Napi::Float32Array out, size_t out_offset)
      : Napi::AsyncWorker(env, "torchCaptionPreprocess"),
        deferred_(Napi::Promise::Deferred::New(env)),
        rgb_ref_(Napi::Persistent(rgb)),
        out_ref_(Napi::Persistent(out)),
        src_(rgb.Data()),
        dst_(out.Data() + out_offset),
        w_(w), h_(h), out_w_(out_w), out_h_(out_h), filter_(filter), params_(params) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      tc::preprocess_rgb8(src_, w_, h_, out_w_, out_h_, filter_, params_, dst_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override { deferred_.Resolve(out_ref_.Value()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> rgb_ref_;
  Napi::Reference<Napi::Float32Array> out_ref_;
  const uint8_t* src_;
  float* dst_;
  int w_, h_, out_w_, out_h_, filter_;
  tc::NormalizeParams params_;
};

class ResampleWorker : public Napi::AsyncWorker {
 public:
  ResampleWorker(Napi::Env env, Napi::Uint8Array rgb, int w, int h, Napi::Uint8Array out, int out_w, int out_h, int filter,
                 bool reference)
      : Napi::AsyncWorker(env, "torchCaptionResample"),
        deferred_(Napi::Promise::Deferred::New(env)),
        rgb_ref_(Napi::Persistent(rgb)),
        out_ref_(Napi::Persistent(out)),
        src_(rgb.Data()),
        dst_(out.Data()),
        w_(w), h_(h), out_w_(out_w), out_h_(out_h), filter_(filter), reference_(reference) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      if (reference_) {
        tc::resample_rgb8_reference(src_, w_, h_, dst_, out_w_, out_h_, filter_);
      } else {
        tc::resample_rgb8(src_, w_, h_, dst_, out_w_, out_h_, filter_);
      }
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override { deferred_.Resolve(out_ref_.Value()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> rgb_ref_;
  Napi::Reference<Napi::Uint8Array> out_ref_;
  const uint8_t* src_;
  uint8_t* dst_;
  int w_, h_, out_w_, out_h_, filter_;
  bool reference_;
};

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
  p.do_rescale = get_bool_field(env, o, "doRescale", true);
  p.do_normalize = get_bool_field(env, o, "doNormalize", true);
  const Napi::Value rf = o.Get("rescaleFactor");
  if (!rf.IsUndefined()) {
    if (!rf.IsNumber() || !std::isfinite(rf.As<Napi::Number>().DoubleValue())) fail(env, "a finite number", "opts.rescaleFactor", rf);
    p.rescale_factor = rf.As<Napi::Number>().DoubleValue();
  }
  get_triple(env, o, "mean", p.mean, 0.5f);
  get_triple(env, o, "std", p.std, 0.5f);

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
  auto* worker = new PreprocessWorker(env, rgb, w, h, out_w, out_h, filter, p, out, offset);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
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
  auto* worker = new ResampleWorker(env, rgb, w, h, out, out_w, out_h, filter, reference);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
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
