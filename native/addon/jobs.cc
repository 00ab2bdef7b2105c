#include "addon/jobs.h"

#include <c10/util/Exception.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace tc {
namespace {

// One queued job: the work, and what settles its Promise on the main thread.
struct Job {
  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  std::function<Finisher()> work;
  std::vector<Napi::Reference<Napi::Value>> keep;
  Napi::Promise::Deferred deferred;
  Finisher finish;
  ErrorKind error_kind = ErrorKind::kNative;
  std::string error;
  bool failed = false;
  bool resolve_with_first_kept = false;  // run_job_into
};

}  // namespace

// Guarded by the owning pool's mutex. `scheduled` is true while the strand sits in the pool's queue or a
// worker runs one of its jobs: a strand is never in the queue twice, so its jobs never overlap.
struct Strand {
  std::deque<std::unique_ptr<Job>> jobs;
  bool scheduled = false;
};

std::shared_ptr<Strand> make_strand() { return std::make_shared<Strand>(); }

namespace {

// Settles finished jobs on the main thread, through one thread-safe function shared by all pools.
class Completions {
 public:
  explicit Completions(Napi::Env env) {
    // Referenced only while jobs are pending, so an idle addon never keeps the process alive.
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function(), "torch-caption", 0, 1);
    tsfn_.Unref(env);
  }
  // No Release here: this runs at environment teardown, when Node closes the function itself.

  void added(Napi::Env env) {
    if (pending_++ == 0) tsfn_.Ref(env);
  }

  // Worker thread.
  void deliver(std::unique_ptr<Job> job) {
    Job* raw = job.release();
    auto status = tsfn_.BlockingCall(raw, [this](Napi::Env env, Napi::Function, Job* j) { settle(env, std::unique_ptr<Job>(j)); });
    if (status != napi_ok) {
      // The environment is shutting down: nobody is left to tell, and references may not be deleted
      // off the main thread; the environment frees them itself.
      for (auto& r : raw->keep) r.SuppressDestruct();
      delete raw;
    }
  }

 private:
  void settle(Napi::Env env, std::unique_ptr<Job> job) {
    Napi::HandleScope scope(env);
    if (--pending_ == 0) tsfn_.Unref(env);
    if (job->failed) {
      job->deferred.Reject(make_error(env, job->error_kind, job->error).Value());
      return;
    }
    if (job->resolve_with_first_kept) {
      job->deferred.Resolve(job->keep.front().Value());
      return;
    }
    try {
      job->deferred.Resolve(job->finish ? job->finish(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      job->deferred.Reject(e.Value());
    } catch (const std::exception& e) {
      job->deferred.Reject(make_error(env, ErrorKind::kNative, e.what()).Value());
    }
  }

  Napi::ThreadSafeFunction tsfn_;
  int pending_ = 0;  // touched on the main thread only
};

// A fixed set of threads draining one queue of free jobs and strands. Owned by the environment, stopped
// and joined at its teardown.
class WorkerPool {
 public:
  WorkerPool(Completions& done, int threads) : done_(done) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void submit(Napi::Env env, std::unique_ptr<Job> job, const std::shared_ptr<Strand>& strand) {
    done_.added(env);
    {
      std::lock_guard<std::mutex> g(m_);
      if (strand) {
        strand->jobs.push_back(std::move(job));
        if (!strand->scheduled) {
          strand->scheduled = true;
          queue_.push_back({nullptr, strand});
        }
      } else {
        queue_.push_back({std::move(job), nullptr});
      }
    }
    cv_.notify_one();
  }

 private:
  struct Entry {
    std::unique_ptr<Job> job;
    std::shared_ptr<Strand> strand;
  };

  void loop() {
    for (;;) {
      std::unique_ptr<Job> job;
      std::shared_ptr<Strand> strand;
      {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [this] { return stop_ || !queue_.empty(); });
        if (stop_ && queue_.empty()) return;
        Entry e = std::move(queue_.front());
        queue_.pop_front();
        strand = std::move(e.strand);
        if (strand) {
          job = std::move(strand->jobs.front());
          strand->jobs.pop_front();
        } else {
          job = std::move(e.job);
        }
      }
      run(*job);
      // Delivered before the strand's next job can start, so one object's Promises settle in call order.
      done_.deliver(std::move(job));
      if (strand) {
        // The strand's next job goes to the back of the queue: other objects' jobs get their turn.
        std::lock_guard<std::mutex> g(m_);
        if (strand->jobs.empty()) strand->scheduled = false;
        else queue_.push_back({nullptr, strand});
        cv_.notify_one();
      }
    }
  }

  static void run(Job& job) {
    try {
      job.finish = job.work();
    } catch (const ArgumentError& e) {
      fail(job, ErrorKind::kArgument, e.what());
    } catch (const std::invalid_argument& e) {
      fail(job, ErrorKind::kArgument, e.what());
    } catch (const FormatError& e) {
      fail(job, ErrorKind::kFormat, e.what());
    } catch (const DistributedError& e) {
      fail(job, ErrorKind::kDistributed, e.what());
    } catch (const c10::Error& e) {
      fail(job, ErrorKind::kNative, e.what_without_backtrace());
    } catch (const std::exception& e) {
      fail(job, ErrorKind::kNative, e.what());
    } catch (...) {
      fail(job, ErrorKind::kNative, "unknown native error");
    }
    job.work = nullptr;  // free what the work captured (tensors, files) here, not on the main thread
  }

  static void fail(Job& job, ErrorKind kind, const std::string& message) {
    job.failed = true;
    job.error_kind = kind;
    job.error = message;
  }

  Completions& done_;
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Entry> queue_;
  bool stop_ = false;
};

// Per-environment state: the JS error classes and the two pools. Members are destroyed in reverse
// order, so the pools (and their threads) go before the references they may use.
struct Runtime {
  Napi::FunctionReference invalid_argument, format, native, distributed;
  std::unique_ptr<Completions> done;
  std::unique_ptr<WorkerPool> torch, image;
};

Runtime* runtime(Napi::Env env) {
  auto* rt = env.GetInstanceData<Runtime>();
  if (!rt) throw Napi::Error::New(env, "torch-caption: the addon's runtime is not started");
  return rt;
}

[[noreturn]] void missing(const Napi::Object& o, const char* key, const char* what) {
  throw Napi::Error::New(o.Env(), std::string("torch-caption internal error: native option '") + key + "' is missing or not " +
                                      what + " (the JS layer must fill every field; see lib/native.ts)");
}

}  // namespace

Napi::Error make_error(Napi::Env env, ErrorKind kind, const std::string& message) {
  auto* rt = env.GetInstanceData<Runtime>();
  Napi::FunctionReference* cls = nullptr;
  if (rt) {
    switch (kind) {
      case ErrorKind::kArgument: cls = &rt->invalid_argument; break;
      case ErrorKind::kFormat: cls = &rt->format; break;
      case ErrorKind::kDistributed: cls = &rt->distributed; break;
      case ErrorKind::kNative: cls = &rt->native; break;
    }
  }
  if (cls && !cls->IsEmpty()) return Napi::Error(env, cls->New({Napi::String::New(env, message)}));
  return kind == ErrorKind::kArgument ? Napi::TypeError::New(env, message) : Napi::Error::New(env, message);
}

void throw_argument_error(Napi::Env env, const std::string& message) { throw make_error(env, ErrorKind::kArgument, message); }

Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = arg_object(info, 0, "setErrorClasses");
  auto* rt = runtime(env);
  auto set = [&](Napi::FunctionReference& ref, const char* key) {
    Napi::Value v = o.Get(key);
    if (!v.IsFunction()) throw Napi::TypeError::New(env, std::string("Expected a class for ") + key);
    ref = Napi::Persistent(v.As<Napi::Function>());
  };
  set(rt->invalid_argument, "InvalidArgumentError");
  set(rt->format, "FormatError");
  set(rt->native, "NativeError");
  set(rt->distributed, "DistributedError");
  return env.Undefined();
}

double req_number(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) missing(o, key, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

int64_t req_int(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) missing(o, key, "an integer");
  return v.As<Napi::Number>().Int64Value();
}

bool req_bool(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) missing(o, key, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string req_string(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) missing(o, key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> req_int_list(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) missing(o, key, "an array of integers");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) missing(o, key, "an array of integers");
    out.push_back(e.As<Napi::Number>().Int64Value());
  }
  return out;
}

std::vector<std::string> req_string_list(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) missing(o, key, "an array of strings");
  auto a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) missing(o, key, "an array of strings");
    out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return out;
}

std::optional<int64_t> req_int_or_null(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsNull()) return std::nullopt;
  if (!v.IsNumber()) missing(o, key, "an integer or null");
  return v.As<Napi::Number>().Int64Value();
}

Napi::Object req_object(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsObject()) missing(o, key, "an object");
  return v.As<Napi::Object>();
}

Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject()) throw_argument_error(info.Env(), std::string("Expected an object for ") + what);
  return info[i].As<Napi::Object>();
}

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw_argument_error(info.Env(), std::string("Expected a string for ") + what);
  return info[i].As<Napi::String>().Utf8Value();
}

void start_runtime(Napi::Env env, int torch_threads, int image_threads) {
  auto rt = std::make_unique<Runtime>();
  rt->done = std::make_unique<Completions>(env);
  rt->torch = std::make_unique<WorkerPool>(*rt->done, torch_threads);
  rt->image = std::make_unique<WorkerPool>(*rt->done, image_threads);
  env.SetInstanceData<Runtime>(rt.release());
}

namespace {

Napi::Promise submit(Napi::Env env, std::function<Finisher()> work, const std::shared_ptr<Strand>& strand,
                     const std::vector<Napi::Value>& keep, Pool pool, bool resolve_with_first_kept) {
  auto* rt = runtime(env);
  auto job = std::make_unique<Job>(env);
  job->work = std::move(work);
  job->resolve_with_first_kept = resolve_with_first_kept;
  for (const auto& v : keep) job->keep.push_back(Napi::Persistent(v));
  auto promise = job->deferred.Promise();
  (pool == Pool::kImage ? rt->image : rt->torch)->submit(env, std::move(job), strand);
  return promise;
}

}  // namespace

Napi::Promise run_job(Napi::Env env, std::function<Finisher()> work, std::shared_ptr<Strand> strand,
                      std::vector<Napi::Value> keep, Pool pool) {
  return submit(env, std::move(work), strand, keep, pool, false);
}

Napi::Promise run_job_into(Napi::Env env, std::function<void()> work, Napi::Value result, std::vector<Napi::Value> keep,
                           Pool pool) {
  keep.insert(keep.begin(), result);
  return submit(env, [work = std::move(work)]() -> Finisher {
    work();
    return nullptr;
  }, nullptr, keep, pool, true);
}

}  // namespace tc
