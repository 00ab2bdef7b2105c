// Module registration and the small free functions of the addon (build info, safetensors I/O); test hooks
// live on `exports.testing`, which only the test suite uses.
#include <napi.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <optional>
#include <thread>

#include "addon/allocator.h"
#include "addon/bridge.h"
#include "addon/jobs.h"
#include "addon/model_binding.h"
#include "addon/process_group.h"
#include "addon/processing_binding.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/loss.h"
#include "models/matmul.h"

namespace tc {
namespace {

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("addonVersion", TC_ADDON_VERSION);
  o.Set("torchVersion", TORCH_VERSION);
  o.Set("torchDir", TC_TORCH_DIR);
  o.Set("cxx11Abi", bool(_GLIBCXX_USE_CXX11_ABI));
#ifdef TC_WITH_CUDA
  o.Set("cudaCompiled", true);
#else
  o.Set("cudaCompiled", false);
#endif
  const bool cuda = torch::cuda::is_available();
  o.Set("cudaAvailable", cuda);
  o.Set("cudaDeviceCount", double(cuda ? torch::cuda::device_count() : 0));
  o.Set("cudaDeviceName", env.Null());
  auto backends = Napi::Array::New(env);
  for (const auto& b : ProcessGroup::available_backends()) backends.Set(backends.Length(), b);
  o.Set("distributedBackends", backends);
  o.Set("numThreads", double(at::get_num_threads()));
  o.Set("numInteropThreads", double(at::get_num_interop_threads()));
  o.Set("blasThreads", double(blas_threads()));
  o.Set("parallelInfo", at::get_parallel_info());
  return o;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw_argument_error(info.Env(), "Expected a number of threads");
  at::set_num_threads(int(info[0].As<Napi::Number>().Int32Value()));
  return info.Env().Undefined();
}

// Seeds libtorch's default generators (CPU and CUDA): dropout and stochastic depth draw from them. A job,
// like everything that touches libtorch state: it runs after the jobs queued before it on the same pool
// thread may have started, so the Trainer seeds inside its train step instead (trainStep's `seed`).
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw_argument_error(info.Env(), "Expected a number for seed");
  const uint64_t seed = uint64_t(info[0].As<Napi::Number>().Int64Value());
  return run_job(info.Env(), [seed]() -> Finisher {
    torch::manual_seed(seed);
    return finish_undefined();
  });
}

Napi::Object header_entry(Napi::Env env, const SafetensorsEntry& e) {
  auto o = Napi::Object::New(env);
  o.Set("name", e.name);
  o.Set("dtype", e.dtype);
  auto shape = Napi::Array::New(env, e.shape.size());
  for (size_t i = 0; i < e.shape.size(); ++i) shape.Set(uint32_t(i), double(e.shape[i]));
  o.Set("shape", shape);
  auto off = Napi::Array::New(env, 2);
  off.Set(0u, double(e.begin));
  off.Set(1u, double(e.end));
  o.Set("offsets", off);
  return o;
}

std::string path_arg(const Napi::CallbackInfo& info, const char* fn) { return arg_string(info, 0, fn); }

Napi::Value ReadSafetensorsHeader(const Napi::CallbackInfo& info) {
  auto path = path_arg(info, "readSafetensorsHeader");
  return run_job(info.Env(), [path]() -> Finisher {
    // A copy of the header: the file (its memory map) is closed here, on the worker.
    auto h = SafetensorsFile(path).header();
    return [h](Napi::Env env) -> Napi::Value {
      auto a = Napi::Array::New(env, h.tensors.size());
      for (size_t i = 0; i < h.tensors.size(); ++i) a.Set(uint32_t(i), header_entry(env, h.tensors[i]));
      return a;
    };
  });
}

Napi::Value ReadSafetensors(const Napi::CallbackInfo& info) {
  auto path = path_arg(info, "readSafetensors");
  return run_job(info.Env(), [path]() -> Finisher {
    SafetensorsFile file(path);
    HostNamed tensors;
    for (const auto& e : file.header().tensors) {
      auto t = file.tensor(e);
      // F16/BF16/F64 and narrow ints come back widened to the bridge's dtypes
      if (t.is_floating_point()) t = t.to(torch::kFloat32);
      else if (t.scalar_type() == torch::kInt16 || t.scalar_type() == torch::kInt8 || t.scalar_type() == torch::kUInt8) t = t.to(torch::kInt32);
      // kShared: the tensor may still point into the memory map, which closes with `file`
      tensors.emplace_back(e.name, to_host(t, Ownership::kShared));
    }
    auto meta = file.header().metadata;
    bool has_meta = file.header().has_metadata;
    return [tensors, meta, has_meta](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      auto t = Napi::Object::New(env);
      for (const auto& [n, v] : tensors) t.Set(n, tensor_to_js(env, v));
      o.Set("tensors", t);
      if (has_meta) {
        auto m = Napi::Object::New(env);
        for (const auto& [k, v] : meta) m.Set(k, v);
        o.Set("metadata", m);
      } else {
        o.Set("metadata", env.Null());
      }
      return o;
    };
  });
}

Napi::Value WriteSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto path = path_arg(info, "writeSafetensors");
  auto obj = arg_object(info, 1, "writeSafetensors");
  NamedTensors tensors = named_from_js(obj, "writeSafetensors");
  std::vector<std::pair<std::string, std::string>> meta;
  if (info.Length() > 2 && info[2].IsObject()) {
    auto m = info[2].As<Napi::Object>();
    auto keys = m.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      meta.emplace_back(k, m.Get(k).ToString().Utf8Value());
    }
  }
  return run_job(env, [=]() -> Finisher {
    write_safetensors(path, tensors, meta);
    return finish_undefined();
  }, nullptr, {info[1]});
}

Napi::Value ReadTorchPickle(const Napi::CallbackInfo& info) {
  auto path = path_arg(info, "readTorchPickle");
  return run_job(info.Env(), [path]() -> Finisher {
    HostNamed tensors;
    for (const auto& [n, t] : read_torch_pickle(path)) tensors.emplace_back(n, to_host(t, Ownership::kFresh));
    return [tensors](Napi::Env env) -> Napi::Value { return named_to_js(env, tensors); };
  });
}

// The two rates the bench's latency floor is made of: memory copy bandwidth (bytes copied per second, a buffer far
// larger than the caches, split over the decoding kernel's worker count) and the float32 matrix product rate at
// the shape of a ViT-base MLP layer ([197, 768] @ [768, 3072]), each the best of several runs.
Napi::Value MeasureMachine(const Napi::CallbackInfo& info) {
  return run_job(info.Env(), []() -> Finisher {
    using clock = std::chrono::steady_clock;
    auto best_seconds = [](int reps, auto&& f) {
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        const auto t0 = clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
      }
      return best;
    };
    const size_t bytes = size_t(128) << 20;
    std::vector<char> src(bytes, 1), dst(bytes, 0);
    const int threads = blas_threads();
    const double copy_s = best_seconds(5, [&] {
      std::vector<std::thread> workers;
      const size_t chunk = bytes / size_t(threads);
      for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] { std::memcpy(dst.data() + t * chunk, src.data() + t * chunk, t + 1 == threads ? bytes - t * chunk : chunk); });
      for (auto& w : workers) w.join();
    });
    c10::InferenceMode inference;
    auto a = torch::randn({197, 768}), b = torch::randn({768, 3072});
    torch::mm(a, b);
    const double mm_s = best_seconds(10, [&] { torch::mm(a, b); });
    const double copy_gbps = double(bytes) / copy_s / 1e9, gflops = 2.0 * 197 * 768 * 3072 / mm_s / 1e9;
    return [copy_gbps, gflops, threads](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("copyGBps", copy_gbps);
      o.Set("matmulGFLOPs", gflops);
      o.Set("threads", double(threads));
      return o;
    };
  });
}

// ---- test hooks (exports.testing): prove the error and threading contract from JS ----

Napi::Value TestThrow(const Napi::CallbackInfo& info) {
  std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (kind == "arg") throw_argument_error(info.Env(), "Expected 'c10', 'std', 'argument', 'format' or 'arg' for kind (test)");
  return run_job(info.Env(), [kind]() -> Finisher {
    if (kind == "c10") {
      // a genuine libtorch error: matmul of mismatched shapes
      auto r = torch::matmul(torch::ones({2, 3}), torch::ones({4, 5}));
      (void)r;
    }
    if (kind == "argument") throw ArgumentError("test ArgumentError from a native job");
    if (kind == "format") throw FormatError("test FormatError from a native job");
    throw std::runtime_error("test std::exception from a native job");
  });
}

Napi::Value TestSleep(const Napi::CallbackInfo& info) {
  const int64_t ms = info[0].As<Napi::Number>().Int64Value();
  return run_job(info.Env(), [ms]() -> Finisher {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return [ms](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, double(ms)); };
  });
}

Napi::Value AddTensors(const Napi::CallbackInfo& info) {
  auto a = tensor_from_js(info[0], "a");
  auto b = tensor_from_js(info[1], "b");
  return run_job(info.Env(), [a, b]() -> Finisher {
    auto c = to_host(a + b, Ownership::kFresh);
    return [c](Napi::Env env) -> Napi::Value { return tensor_to_js(env, c); };
  }, nullptr, {info[0], info[1]});
}

// x @ w + bias (w [K, N]) or x @ w^T + bias (w [N, K], nn.Linear's layout) through the decoding kernels, as
// generate runs them (under InferenceMode), for their tests. A square w is taken as [K, N].
Napi::Value ThinGemm(const Napi::CallbackInfo& info) {
  auto x = tensor_from_js(info[0], "x");
  auto w = tensor_from_js(info[1], "w");
  torch::Tensor bias;
  std::vector<Napi::Value> keep{info[0], info[1]};
  if (info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined()) {
    bias = tensor_from_js(info[2], "bias");
    keep.push_back(info[2]);
  }
  return run_job(info.Env(), [x, w, bias]() -> Finisher {
    c10::InferenceMode inference;
    // w [K, N] (Conv1D's layout) when its first dimension matches x's, else [N, K] (nn.Linear's).
    const bool in_out = w.dim() == 2 && x.dim() == 2 && w.size(0) == x.size(1);
    TORCH_CHECK(in_out ? thin_gemm_applies(x, w) : thin_linear_applies(x, w), "thinGemm: the kernel does not apply to x ", x.sizes(), " and w ",
                w.sizes());
    auto out = to_host(in_out ? thin_gemm(x, w, bias) : thin_linear(x, w, bias), Ownership::kFresh);
    return [out](Napi::Env env) -> Napi::Value { return tensor_to_js(env, out); };
  }, nullptr, keep);
}

// The training loss (models/loss.h) and its gradient with respect to the logits, or F::cross_entropy's when
// `reference` is true, for the test that holds the two equal bit for bit.
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  auto logits = tensor_from_js(info[0], "logits");
  auto labels = tensor_from_js(info[1], "labels");
  const double smoothing = info[2].As<Napi::Number>().DoubleValue();
  const bool reference = info[3].As<Napi::Boolean>().Value();
  return run_job(info.Env(), [logits, labels, smoothing, reference]() -> Finisher {
    namespace F = torch::nn::functional;
    auto x = logits.detach().clone().requires_grad_(true);
    auto loss = reference ? F::cross_entropy(x, labels, F::CrossEntropyFuncOptions().ignore_index(-100).label_smoothing(smoothing))
                          : cross_entropy(x, labels, smoothing);
    loss.backward();
    auto l = to_host(loss.detach().reshape({1}), Ownership::kFresh);
    auto g = to_host(x.grad(), Ownership::kFresh);
    return [l, g](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("loss", tensor_to_js(env, l));
      o.Set("grad", tensor_to_js(env, g));
      return o;
    };
  }, nullptr, {info[0], info[1]});
}

// a @ b (b^T when transposeB: b holds [..., N, K], as attention's k), with the gradients of both operands for the
// upstream gradient g, three ways for the test that holds them together: "ours" (models/matmul.h as the models
// call it), "single-threaded" (the same one matrix at a time with OpenBLAS on one thread, whose bits the split
// must reproduce) and "torch" (torch::matmul).
Napi::Value BatchedMatmul(const Napi::CallbackInfo& info) {
  auto a = tensor_from_js(info[0], "a");
  auto b = tensor_from_js(info[1], "b");
  auto g = tensor_from_js(info[2], "g");
  const bool transpose_b = info[3].As<Napi::Boolean>().Value();
  const std::string mode = info[4].As<Napi::String>().Utf8Value();
  if (mode != "ours" && mode != "single-threaded" && mode != "torch")
    throw_argument_error(info.Env(), "batchedMatmul: mode must be 'ours', 'single-threaded' or 'torch'");
  return run_job(info.Env(), [a, b, g, transpose_b, mode]() -> Finisher {
    auto x = a.detach().clone().requires_grad_(true);
    auto y = b.detach().clone().requires_grad_(true);
    const auto rhs = transpose_b ? y.transpose(-1, -2) : y;
    std::optional<SingleThreadedBlas> single;
    if (mode == "single-threaded") {
      TORCH_CHECK(SingleThreadedBlas::available(), "batchedMatmul: the BLAS is not OpenBLAS");
      single.emplace();
    }
    const double workers = double(mode == "ours" ? batched_matmul_workers(x, rhs) : 1);
    auto out = mode == "torch" ? torch::matmul(x, rhs) : batched_matmul(x, rhs, mode == "ours" ? 0 : 1);
    out.backward(g);
    single.reset();
    auto o = to_host(out.detach(), Ownership::kFresh);
    auto ga = to_host(x.grad(), Ownership::kFresh);
    auto gb = to_host(y.grad(), Ownership::kFresh);
    return [o, ga, gb, workers](Napi::Env env) -> Napi::Value {
      auto r = Napi::Object::New(env);
      r.Set("workers", workers);
      r.Set("out", tensor_to_js(env, o));
      r.Set("gradA", tensor_to_js(env, ga));
      r.Set("gradB", tensor_to_js(env, gb));
      return r;
    };
  }, nullptr, {info[0], info[1], info[2]});
}

// glibc returns every allocation above its mmap threshold (at most 32 MB by default) to the OS on free,
// so each training step page-faults its large activations (the [batch, tokens, 50257] logits alone are
// tens of MB) back in: measured 45 -> 104 samples/s on the tiny model when large blocks are kept for reuse.
// It must run before any worker thread first allocates (the addon is loaded before its first job).
// TORCH_CAPTION_MALLOC=default leaves glibc's behaviour alone.
void tune_malloc() {
#ifdef M_MMAP_THRESHOLD
  const char* v = std::getenv("TORCH_CAPTION_MALLOC");
  if (v && std::strcmp(v, "default") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // One arena: a worker thread's own arena grows in heaps of at most 64 MB, so large tensors allocated
  // on libuv threads would still be mmap'ed and faulted in at every step (measured 108 -> 130
  // samples/s tiny, 3.2 -> 7.8 small).
  mallopt(M_ARENA_MAX, 1);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tune_malloc();
  const bool caching = install_caching_cpu_allocator();
  exports.Set("cachingAllocator", Napi::Boolean::New(env, caching));
  // Two torch threads (libtorch parallelizes inside ops; jobs on different models overlap) and one image
  // thread per core (decoding the next batch never waits behind a training step).
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  start_runtime(env, 2, int(std::min(cores, 8u)));
  exports.Set("setErrorClasses", Napi::Function::New<SetErrorClasses>(env, "setErrorClasses"));
  exports.Set("buildInfo", Napi::Function::New<BuildInfo>(env, "buildInfo"));
  exports.Set("setNumThreads", Napi::Function::New<SetNumThreads>(env, "setNumThreads"));
  exports.Set("manualSeed", Napi::Function::New<ManualSeed>(env, "manualSeed"));
  exports.Set("readSafetensorsHeader", Napi::Function::New<ReadSafetensorsHeader>(env, "readSafetensorsHeader"));
  exports.Set("readSafetensors", Napi::Function::New<ReadSafetensors>(env, "readSafetensors"));
  exports.Set("writeSafetensors", Napi::Function::New<WriteSafetensors>(env, "writeSafetensors"));
  exports.Set("readTorchPickle", Napi::Function::New<ReadTorchPickle>(env, "readTorchPickle"));
  exports.Set("measureMachine", Napi::Function::New<MeasureMachine>(env, "measureMachine"));
  auto testing = Napi::Object::New(env);
  testing.Set("throwError", Napi::Function::New<TestThrow>(env, "throwError"));
  testing.Set("sleep", Napi::Function::New<TestSleep>(env, "sleep"));
  testing.Set("addTensors", Napi::Function::New<AddTensors>(env, "addTensors"));
  testing.Set("thinGemm", Napi::Function::New<ThinGemm>(env, "thinGemm"));
  testing.Set("crossEntropy", Napi::Function::New<CrossEntropy>(env, "crossEntropy"));
  testing.Set("batchedMatmul", Napi::Function::New<BatchedMatmul>(env, "batchedMatmul"));
  exports.Set("testing", testing);
  InitModel(env, exports, testing);
  InitProcessGroup(env, exports);
  InitProcessing(env, exports);
  return exports;
}

}  // namespace
}  // namespace tc

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return tc::Init(env, exports); }
NODE_API_MODULE(torch_caption, InitAddon)
