#include "addon/bridge.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <thread>

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

std::vector<std::pair<std::string, torch::Tensor>> named_from_js(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw Napi::TypeError::New(value.Env(), "Expected a {name: tensor} object for " + what);
  auto obj = value.As<Napi::Object>();
  std::vector<std::pair<std::string, torch::Tensor>> out;
  auto names = obj.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    out.emplace_back(name, tensor_from_js(obj.Get(name), name));
  }
  return out;
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

namespace {

// One queued job: the work, and what settles its Promise on the main thread.
struct Job {
  std::function<Finisher()> work;
  std::shared_ptr<std::mutex> lock;
  std::vector<Napi::Reference<Napi::Value>> keep;
  Napi::Promise::Deferred deferred;
  Finisher finish;
  std::string error;
  bool failed = false;
};

// A fixed set of threads draining one queue; completions go back to the event loop through a
// thread-safe function. Owned by the environment (instance data), stopped and joined at its teardown.
class WorkerPool {
 public:
  WorkerPool(Napi::Env env, int threads) {
    // The thread-safe function is referenced only while jobs are pending, so an idle pool never keeps
    // the process alive.
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function(), "torch-caption", 0, 1);
    tsfn_.Unref(env);
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    tsfn_.Release();
  }

  void submit(Napi::Env env, std::unique_ptr<Job> job) {
    if (pending_++ == 0) tsfn_.Ref(env);
    {
      std::lock_guard<std::mutex> g(m_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::unique_ptr<Job> job;
      {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [this] { return stop_ || !queue_.empty(); });
        if (stop_ && queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      run(*job);
      Job* raw = job.release();
      auto status = tsfn_.BlockingCall(raw, [this](Napi::Env env, Napi::Function, Job* j) { settle(env, std::unique_ptr<Job>(j)); });
      if (status != napi_ok) delete raw;  // environment shutting down: nobody to tell
    }
  }

  static void run(Job& job) {
    try {
      std::unique_lock<std::mutex> guard;
      if (job.lock) guard = std::unique_lock<std::mutex>(*job.lock);
      job.finish = job.work();
    } catch (const std::exception& e) {
      job.failed = true;
      job.error = error_message(e);
    } catch (...) {
      job.failed = true;
      job.error = "unknown native error";
    }
  }

  void settle(Napi::Env env, std::unique_ptr<Job> job) {
    Napi::HandleScope scope(env);
    if (--pending_ == 0) tsfn_.Unref(env);
    if (job->failed) {
      job->deferred.Reject(Napi::Error::New(env, job->error).Value());
      return;
    }
    try {
      job->deferred.Resolve(job->finish ? job->finish(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      job->deferred.Reject(e.Value());
    } catch (const std::exception& e) {
      job->deferred.Reject(Napi::Error::New(env, error_message(e)).Value());
    }
  }

  Napi::ThreadSafeFunction tsfn_;
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stop_ = false;
  int pending_ = 0;  // touched on the main thread only
};

}  // namespace

void start_workers(Napi::Env env, int threads) { env.SetInstanceData<WorkerPool>(new WorkerPool(env, threads)); }

Napi::Promise run_job(Napi::Env env, std::function<Finisher()> work, std::shared_ptr<std::mutex> lock,
                      std::vector<Napi::Value> keep) {
  auto* pool = env.GetInstanceData<WorkerPool>();
  if (!pool) throw Napi::Error::New(env, "torch-caption: worker threads are not running");
  auto job = std::make_unique<Job>(Job{std::move(work), std::move(lock), {}, Napi::Promise::Deferred::New(env), {}, {}, false});
  for (auto& v : keep) job->keep.push_back(Napi::Persistent(v));
  auto promise = job->deferred.Promise();
  pool->submit(env, std::move(job));
  return promise;
}

}  // namespace tc
