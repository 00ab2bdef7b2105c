// The threading contract of the addon, in one place (node-addon-api only, no torch):
//
// - Work that touches libtorch or takes time runs as a job on one of the addon's own worker threads, never
//   on the event loop. A job is two parts: `work` runs on a worker and may not touch V8; the Finisher it
//   returns runs on the main thread and may only build JS values from host memory (no device copies, no
//   dtype casts, no locks).
// - Jobs on one native object (a model and its optimizer) go through that object's Strand: they run one at
//   a time, in the order they were submitted, on whichever worker is free. Nothing on the main thread
//   waits for a strand, so no method ever blocks the event loop behind a long job.
// - Errors keep their class: ArgumentError rejects with the library's InvalidArgumentError, FormatError
//   with FormatError, DistributedError with DistributedError, anything else (libtorch's c10::Error included, without its C++ backtrace) with
//   NativeError. The JS classes are handed over once at load (setErrorClasses).
// - Persistent references that keep input typed arrays alive are created and deleted on the main thread.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "errors.h"

namespace tc {

enum class ErrorKind { kArgument, kFormat, kDistributed, kNative };

// The JS error of `kind` (the library's class once registered, a plain Error before that).
Napi::Error make_error(Napi::Env env, ErrorKind kind, const std::string& message);
[[noreturn]] void throw_argument_error(Napi::Env env, const std::string& message);

// setErrorClasses({InvalidArgumentError, FormatError, NativeError, DistributedError}): called once by lib/native.ts.
Napi::Value SetErrorClasses(const Napi::CallbackInfo& info);

// Required fields of the typed option objects lib/native.ts builds (NativeModelConfig,
// NativeGenerateOptions, ...). Defaults and user-facing validation live in TypeScript only: a missing
// or mistyped field here is a bug in the JS layer and is reported as such.
double req_number(const Napi::Object& o, const char* key);
int64_t req_int(const Napi::Object& o, const char* key);
bool req_bool(const Napi::Object& o, const char* key);
std::string req_string(const Napi::Object& o, const char* key);
std::vector<int64_t> req_int_list(const Napi::Object& o, const char* key);
std::vector<std::string> req_string_list(const Napi::Object& o, const char* key);
std::optional<int64_t> req_int_or_null(const Napi::Object& o, const char* key);
Napi::Object req_object(const Napi::Object& o, const char* key);
Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* what);
std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* what);

// Builds the JS result on the main thread once the work is done.
using Finisher = std::function<Napi::Value(Napi::Env)>;
inline Finisher finish_undefined() {
  return [](Napi::Env env) { return env.Undefined(); };
}

// A FIFO of jobs for one native object (see above).
struct Strand;
std::shared_ptr<Strand> make_strand();

// kTorch: two threads for libtorch work (libtorch parallelizes inside an op). kImage: one thread per core
// for image resampling, so decoding the next batch never waits behind a training step.
enum class Pool { kTorch, kImage };

// Queues `work` and returns a Promise settled with what its Finisher builds. `keep` holds JS values
// (input typed arrays) alive until the job has settled.
Napi::Promise run_job(Napi::Env env, std::function<Finisher()> work, std::shared_ptr<Strand> strand = nullptr,
                      std::vector<Napi::Value> keep = {}, Pool pool = Pool::kTorch);

// As run_job, for work that fills a JS-owned buffer: the Promise resolves with `result` itself (kept
// alive with `keep` for the job's duration).
Napi::Promise run_job_into(Napi::Env env, std::function<void()> work, Napi::Value result, std::vector<Napi::Value> keep,
                           Pool pool);

// Starts the worker threads for this environment (once, from the module's Init). They start after the
// addon tunes malloc (addon.cc), so their large allocations come from the main arena.
void start_runtime(Napi::Env env, int torch_threads, int image_threads);

}  // namespace tc
