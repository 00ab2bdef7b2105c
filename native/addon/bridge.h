// Tensor bridge and async job plumbing shared by every binding.
//
// Inputs: a JS object {dtype, shape, data: TypedArray}. The data is wrapped with torch::from_blob (no copy)
// and the typed array is kept alive by a persistent reference held by the job until it finishes.
// Outputs: results are copied into fresh typed arrays on the main thread.
#pragma once
#include <napi.h>
#include <torch/torch.h>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tc {

// Wraps a JS tensor object without copying. Throws Napi::TypeError with "Expected X for Y" on bad input.
torch::Tensor tensor_from_js(const Napi::Value& value, const std::string& what);

// Wraps every tensor of a JS {name: tensor} object (no copies), in property order.
std::vector<std::pair<std::string, torch::Tensor>> named_from_js(const Napi::Value& value, const std::string& what);

// Copies a tensor (any device, any dtype we support) into a JS {dtype, shape, data} object.
Napi::Object tensor_to_js(Napi::Env env, const torch::Tensor& t);

// Readable message for any exception thrown by libtorch or our code (no C++ backtrace dump).
std::string error_message(const std::exception& e);

// Reads an optional number / bool / string field from an options object.
double get_number(const Napi::Object& o, const char* key, double fallback);
int64_t get_int(const Napi::Object& o, const char* key, int64_t fallback);
bool get_bool(const Napi::Object& o, const char* key, bool fallback);
std::string get_string(const Napi::Object& o, const char* key, const std::string& fallback);
std::vector<int64_t> get_int_list(const Napi::Object& o, const char* key);

// Builds the JS result on the main thread once the work is done.
using Finisher = std::function<Napi::Value(Napi::Env)>;

// Runs `work` on one of the addon's own worker threads (never on the event loop) and settles a Promise
// with the value its returned Finisher builds on the main thread. `lock`, when given, serializes all
// jobs on one native object. `keep` holds JS values (input typed arrays) alive for the duration of the job.
//
// Own threads rather than libuv's pool: they are started after the addon tunes malloc (see addon.cc), so
// their large tensor allocations come from the main arena and are reused instead of page-faulted in at
// every step, and long torch jobs never starve libuv's pool (file I/O, sharp).
Napi::Promise run_job(Napi::Env env, std::function<Finisher()> work,
                      std::shared_ptr<std::mutex> lock = nullptr, std::vector<Napi::Value> keep = {});

// Starts the worker threads for this environment (called once from the module's Init).
void start_workers(Napi::Env env, int threads);

// Finisher that resolves with undefined.
inline Finisher finish_undefined() {
  return [](Napi::Env env) { return env.Undefined(); };
}

}  // namespace tc
