#include "addon/model_binding.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#if __has_include(<torch/csrc/autograd/profiler_legacy.h>)
#include <torch/csrc/autograd/profiler_legacy.h>
#define TC_WITH_PROFILER 1
#endif

#include "addon/bridge.h"
#include "addon/jobs.h"
#include "addon/process_group.h"
#include "generate/generate.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/captioner.h"
#include "models/registry.h"
#include "optim/adamw.h"
#include "optim/amp.h"
#include "optim/data_parallel.h"

namespace tc {
namespace {

// ---- the typed objects of lib/native.ts, read with no fallbacks (TypeScript filled every field) ----

// A config object of lib/native.ts, read by the architectures (models/config_source.h).
class NapiConfig : public ConfigSource {
 public:
  explicit NapiConfig(Napi::Object o) : o_(o) {}
  int64_t integer(const char* key) const override { return req_int(o_, key); }
  double number(const char* key) const override { return req_number(o_, key); }
  bool boolean(const char* key) const override { return req_bool(o_, key); }
  std::string string(const char* key) const override { return req_string(o_, key); }
  std::vector<int64_t> integers(const char* key) const override { return req_int_list(o_, key); }
  std::unique_ptr<ConfigSource> child(const char* key) const override { return std::make_unique<NapiConfig>(req_object(o_, key)); }

 private:
  Napi::Object o_;
};

// NativeModelConfig: the captioner by model_type (models/registry.h), then the special tokens.
struct ModelConfig {
  CaptionModelFactory make;
  int64_t decoder_start_token_id = -1, pad_token_id = -1, eos_token_id = -1;  // -1: not set (config.json's null)
};

ModelConfig parse_config(const Napi::Object& cfg) {
  ModelConfig c;
  c.make = caption_model_factory(NapiConfig(cfg));
  c.decoder_start_token_id = req_int_or_null(cfg, "decoder_start_token_id").value_or(-1);
  c.pad_token_id = req_int_or_null(cfg, "pad_token_id").value_or(-1);
  c.eos_token_id = req_int_or_null(cfg, "eos_token_id").value_or(-1);
  return c;
}

// NativeGenerateOptions
// TORCH_CAPTION_PROFILE=PREFIX: a Chrome trace of every op of a training step (PREFIX.<step>.json) or of a
// generate call (PREFIX.generate.<clock>.json), written when the returned scope ends (a profiling aid).
#ifdef TC_WITH_PROFILER
std::unique_ptr<torch::autograd::profiler::RecordProfile> profile_scope(const std::string& name) {
  const char* prefix = std::getenv("TORCH_CAPTION_PROFILE");
  if (!prefix || !*prefix) return nullptr;
  return std::make_unique<torch::autograd::profiler::RecordProfile>(std::string(prefix) + "." + name + ".json");
}
#else
std::nullptr_t profile_scope(const std::string&) { return nullptr; }
#endif

GenerateOptions parse_generate_options(const Napi::Object& opts) {
  GenerateOptions o;
  o.max_length = req_int(opts, "max_length");
  o.min_length = req_int(opts, "min_length");
  o.num_beams = req_int(opts, "num_beams");
  o.num_return_sequences = req_int(opts, "num_return_sequences");
  o.no_repeat_ngram_size = req_int(opts, "no_repeat_ngram_size");
  o.length_penalty = req_number(opts, "length_penalty");
  o.repetition_penalty = req_number(opts, "repetition_penalty");
  o.early_stopping = req_bool(opts, "early_stopping");
  o.do_sample = req_bool(opts, "do_sample");
  o.temperature = req_number(opts, "temperature");
  o.top_k = req_int(opts, "top_k");
  o.top_p = req_number(opts, "top_p");
  o.seed = uint64_t(req_int(opts, "seed"));
  o.decoder_start_token_id = req_int(opts, "decoder_start_token_id");
  o.eos_token_id = req_int_or_null(opts, "eos_token_id").value_or(-1);
  o.pad_token_id = req_int_or_null(opts, "pad_token_id").value_or(-1);
  Napi::Value bad = opts.Get("bad_words_ids");
  if (!bad.IsArray()) throw Napi::Error::New(opts.Env(), "torch-caption internal error: bad_words_ids must be an array");
  auto a = bad.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value inner = a.Get(i);
    std::vector<int64_t> seq;
    if (inner.IsArray()) {
      auto arr = inner.As<Napi::Array>();
      for (uint32_t j = 0; j < arr.Length(); ++j) seq.push_back(arr.Get(j).As<Napi::Number>().Int64Value());
    }
    o.bad_words_ids.push_back(std::move(seq));
  }
  Napi::Value start = opts.Get("start_ids");
  if (!start.IsNull()) {
    if (!start.IsArray()) throw Napi::Error::New(opts.Env(), "torch-caption internal error: start_ids must be an array or null");
    auto rows = start.As<Napi::Array>();
    for (uint32_t i = 0; i < rows.Length(); ++i) {
      auto row = rows.Get(i).As<Napi::Array>();
      std::vector<int64_t> ids;
      for (uint32_t j = 0; j < row.Length(); ++j) ids.push_back(row.Get(j).As<Napi::Number>().Int64Value());
      o.start_ids.push_back(std::move(ids));
    }
  }
  return o;
}

// 'cpu' | 'cuda' | 'cuda:N' (lib/models resolves 'auto' and checks that CUDA is there).
torch::Device parse_device(const std::string& d) {
  TORCH_CHECK(d == "cpu" || d.rfind("cuda", 0) == 0, "device '", d, "' (the JS layer validates devices)");
  torch::Device device(d);
  TORCH_CHECK(device.is_cpu() || torch::cuda::is_available(), "device ", d, " without CUDA (the JS layer checks)");
  return device;
}

torch::ScalarType parse_dtype(const std::string& dt) {
  if (dt == "bfloat16") return torch::kBFloat16;
  if (dt == "float16") return torch::kFloat16;
  TORCH_CHECK(dt == "float32", "model dtype '", dt, "' (the JS layer validates dtypes)");
  return torch::kFloat32;
}

Napi::Array strings_to_js(Napi::Env env, const std::vector<std::string>& v) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(uint32_t(i), v[i]);
  return a;
}

Napi::Object report_to_js(Napi::Env env, const LoadReport& r) {
  auto o = Napi::Object::New(env);
  o.Set("missing", strings_to_js(env, r.missing));
  o.Set("unexpected", strings_to_js(env, r.unexpected));
  return o;
}

// ---- one model: the module and its device (touched by jobs only), and a snapshot for the main thread ----

struct ParamInfo {
  std::string name, dtype;
  std::vector<int64_t> shape;
  bool requires_grad = false;
  int64_t numel = 0;
};

// What synchronous methods report. Jobs that change it publish a new one when they finish; the main thread
// copies it under a mutex that is never held for longer than that copy, so it never waits for a job.
struct ModelSnapshot {
  std::string device = "cpu";
  std::vector<ParamInfo> params;
  double num_parameters = 0, num_trainable = 0;
};

struct ModelState {
  ModelConfig config;
  std::shared_ptr<CaptionModelImpl> model;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  std::shared_ptr<Strand> strand = make_strand();

  std::shared_ptr<CaptionModelImpl>& module() {
    TORCH_CHECK(model, "the model is used before build() (lib/models awaits it)");
    return model;
  }
  std::vector<torch::Tensor> trainable() {
    std::vector<torch::Tensor> out;
    for (auto& p : module()->parameters())
      if (p.requires_grad()) out.push_back(p);
    return out;
  }
  torch::Tensor input(const torch::Tensor& t, bool floating) const { return floating ? t.to(device, dtype) : t.to(device); }

  // Worker thread, at the end of a job that changed devices, dtypes or parameters.
  void publish() {
    ModelSnapshot s;
    s.device = device.str();
    std::set<std::string> params;
    for (const auto& p : model->named_parameters(true)) {
      params.insert(p.key());
      s.num_parameters += double(p.value().numel());
      if (p.value().requires_grad()) s.num_trainable += double(p.value().numel());
    }
    for (const auto& [name, t] : module_state(*model)) {
      ParamInfo info{name, std::string(c10::toString(t.scalar_type())), t.sizes().vec(), params.count(name) > 0 && t.requires_grad(), t.numel()};
      s.params.push_back(std::move(info));
    }
    std::lock_guard<std::mutex> g(snapshot_mutex_);
    snapshot_ = std::move(s);
  }
  ModelSnapshot snapshot() const {
    std::lock_guard<std::mutex> g(snapshot_mutex_);
    return snapshot_;
  }

 private:
  mutable std::mutex snapshot_mutex_;
  ModelSnapshot snapshot_;
};

// An optimizer over one model's parameters. Built lazily by the first job that needs it, on the model's
// strand, so that `new AdamW(model)` never waits for the model's running job.
struct OptimizerState {
  AdamWOptions options;
  std::unique_ptr<AdamW> opt;
  std::atomic<int64_t> step_count{0};

  AdamW& get(ModelState& m) {
    if (!opt) {
      NamedTensors params;
      for (const auto& p : m.module()->named_parameters(true)) params.emplace_back(p.key(), p.value());
      opt = std::make_unique<AdamW>(params, options);
    }
    return *opt;
  }
  void published() { step_count = opt ? opt->step_count() : 0; }
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports, Napi::Object testing);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<ModelState> state() const { return s_; }

 private:
  Napi::Value Build(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  Napi::Value BroadcastState(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Gradients(const Napi::CallbackInfo& info);
  Napi::Value SetGradients(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadWeights(const Napi::CallbackInfo& info);
  Napi::Value SaveSafetensors(const Napi::CallbackInfo& info);
  Napi::Value InitWeights(const Napi::CallbackInfo& info);
  Napi::Value SetTraining(const Napi::CallbackInfo& info);
  Napi::Value SetSpecialTokens(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value ParameterInfo(const Napi::CallbackInfo& info);
  Napi::Value NumParameters(const Napi::CallbackInfo& info);
  Napi::Value SetVisionFrozen(const Napi::CallbackInfo& info);
  Napi::Value EncodeImages(const Napi::CallbackInfo& info);

  // Queues `work` on this model's strand.
  Napi::Promise job(Napi::Env env, std::function<Finisher()> work, std::vector<Napi::Value> keep = {}) {
    return run_job(env, std::move(work), s_->strand, std::move(keep));
  }

  std::shared_ptr<ModelState> s_;
};

class AdamWWrap : public Napi::ObjectWrap<AdamWWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit AdamWWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<OptimizerState> opt;
  std::shared_ptr<ModelState> model;

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value StepCount(const Napi::CallbackInfo& info);
};

// The constructor only copies the config (no torch work): build() creates the modules on a worker.
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  s_ = std::make_shared<ModelState>();
  try {
    s_->config = parse_config(arg_object(info, 0, "the Model config"));
  } catch (const ArgumentError& e) {
    throw_argument_error(info.Env(), e.what());
  }
}

// build({seed, device, init}): modules, Hugging Face style init (skipped with init false, for weights about to
// be loaded over it: HF's fast init), eval mode, device.
Napi::Value ModelWrap::Build(const Napi::CallbackInfo& info) {
  auto opts = arg_object(info, 0, "build");
  const uint64_t seed = uint64_t(req_int(opts, "seed"));
  const std::string device = req_string(opts, "device");
  const bool init = req_bool(opts, "init");
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    TORCH_CHECK(!s->model, "build() called twice");
    s->model = s->config.make();
    s->model->set_special_tokens(s->config.decoder_start_token_id, s->config.pad_token_id, s->config.eos_token_id);
    if (init) s->model->init_weights(seed);
    s->model->eval();
    s->device = parse_device(device);
    if (!s->device.is_cpu()) s->model->to(s->device);
    s->publish();
    return finish_undefined();
  });
}

// NativeInputs: pixel_values or vision_hidden (one of them; lib/models checks), and labels / input_ids /
// attention_mask when given.
struct InputTensors {
  torch::Tensor pixel_values, labels, input_ids, attention_mask, vision_hidden;
};

InputTensors read_inputs(const Napi::Object& o) {
  InputTensors t;
  if (o.Has("vision_hidden")) t.vision_hidden = tensor_from_js(o.Get("vision_hidden"), "vision_hidden");
  // Absent with vision_hidden; a standalone decoder reads its encoder_hidden_states here (lib/models checks).
  if (o.Has("pixel_values")) t.pixel_values = tensor_from_js(o.Get("pixel_values"), "pixel_values");
  if (o.Has("labels")) t.labels = tensor_from_js(o.Get("labels"), "labels");
  if (o.Has("input_ids")) t.input_ids = tensor_from_js(o.Get("input_ids"), "input_ids");
  if (o.Has("attention_mask")) t.attention_mask = tensor_from_js(o.Get("attention_mask"), "attention_mask");
  return t;
}

// On the model's device (worker thread); pixel values and vision states in the model's dtype.
CaptionInputs device_inputs(const ModelState& s, const InputTensors& t, double smoothing) {
  auto move = [&](const torch::Tensor& x) { return x.defined() ? s.input(x, false) : x; };
  auto floats = [&](const torch::Tensor& x) { return x.defined() ? s.input(x, true) : x; };
  CaptionInputs in{floats(t.pixel_values), move(t.input_ids), move(t.attention_mask), move(t.labels), smoothing};
  in.vision_hidden = floats(t.vision_hidden);
  return in;
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  const auto inputs = read_inputs(arg_object(info, 0, "forward inputs"));
  auto opts = arg_object(info, 1, "forward options");
  const double smoothing = req_number(opts, "label_smoothing");
  const bool with_logits = req_bool(opts, "logits");
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    torch::NoGradGuard no_grad;
    auto out = s->module()->forward(device_inputs(*s, inputs, smoothing));
    std::optional<double> loss;
    if (out.loss.defined()) loss = out.loss.item<double>();
    std::optional<HostTensor> logits;
    // A standalone encoder has no logits, a standalone decoder no vision states.
    if (with_logits && out.logits.defined()) logits = to_host(out.logits, Ownership::kFresh);
    std::optional<HostTensor> hidden;
    if (out.vision_hidden.defined()) hidden = to_host(out.vision_hidden, Ownership::kFresh);
    return [loss, logits, hidden](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      if (loss) o.Set("loss", *loss);
      if (logits) o.Set("logits", tensor_to_js(env, *logits));
      if (hidden) o.Set("encoder_last_hidden_state", tensor_to_js(env, *hidden));
      return o;
    };
  }, {info[0]});
}

// Forward + backward of one micro-batch; gradients accumulate. Returns the forward's outputs (loss unscaled).
// With an autocast dtype only the forward pass (loss included) is autocast: backward runs outside it, as
// torch recommends and accelerate does (backward ops take the dtypes their forward ops had).
CaptionOutput forward_backward(ModelState& s, const InputTensors& inputs, double scale, double smoothing,
                               std::optional<torch::ScalarType> autocast = std::nullopt) {
  TORCH_CHECK(inputs.labels.defined(), "backward without labels (lib/models checks)");
  CaptionOutput out;
  {
    AutocastGuard guard(autocast, s.device.type());
    out = s.module()->forward(device_inputs(s, inputs, smoothing));
  }
  // A non-finite loss leaves the gradients untouched; the caller reports the step.
  if (std::isfinite(out.loss.item<double>())) (out.loss * scale).backward();
  return out;
}

// NativeBackwardOptions. One forward and its backward; with `logits`, the forward's logits and encoder
// states come back too (a custom loop needs no second forward, which dropout would make differ).
Napi::Value ModelWrap::Backward(const Napi::CallbackInfo& info) {
  const auto inputs = read_inputs(arg_object(info, 0, "backward inputs"));
  auto opts = arg_object(info, 1, "backward options");
  const double scale = req_number(opts, "loss_scale"), smoothing = req_number(opts, "label_smoothing");
  const bool with_outputs = req_bool(opts, "logits");
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    auto out = forward_backward(*s, inputs, scale, smoothing);
    const double loss = out.loss.item<double>();
    std::optional<HostTensor> logits, hidden;
    if (with_outputs) {
      logits = to_host(out.logits, Ownership::kFresh);
      if (out.vision_hidden.defined()) hidden = to_host(out.vision_hidden, Ownership::kFresh);
    }
    return [loss, logits, hidden](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("loss", loss);
      if (logits) o.Set("logits", tensor_to_js(env, *logits));
      if (hidden) o.Set("encoder_last_hidden_state", tensor_to_js(env, *hidden));
      return o;
    };
  }, {info[0]});
}

// The label tokens each micro-batch's loss averages over.
std::vector<double> loss_tokens(CaptionModelImpl& model, const std::vector<InputTensors>& batches) {
  std::vector<double> n;
  for (const auto& b : batches) {
    CaptionInputs in;
    in.labels = b.labels;
    in.input_ids = b.input_ids;
    n.push_back(double(model.loss_tokens(in)));
  }
  return n;
}

// The data-parallel part of NativeTrainStepOptions: null process_group = one process.
struct DataParallelOptions {
  std::shared_ptr<ProcessGroup> group;
  bool stop = false, check_replicas = false;
  int64_t bucket_bytes = 0;
};

DataParallelOptions parse_data_parallel(const Napi::Object& opts) {
  DataParallelOptions d;
  Napi::Value g = opts.Get("process_group");
  if (!g.IsNull() && !g.IsUndefined()) d.group = process_group_from_js(g);
  d.stop = req_bool(opts, "stop");
  d.check_replicas = req_bool(opts, "check_replicas");
  d.bucket_bytes = req_int(opts, "bucket_bytes");
  return d;
}

// NativeTrainStepOptions. One optimizer step in one native call: forward+backward per micro-batch, unscaling,
// global-norm clipping, AdamW, zeroing the gradients. The loss is the mean over every label token of the
// step (transformers' num_items_in_batch rule): micro-batch i's mean loss is weighted by its share of the
// step's tokens, across ranks when data-parallel. Then n ranks with batch b train exactly like one process
// with batch n*b, and accumulation over unequal caption lengths weighs every token alike.
// Data-parallel (a process group): the token count and the stop request are summed first, gradients after
// the last backward (none between micro-batches: DDP's no_sync), before clipping and AdamW. Dropout is
// reseeded first when a seed is given, inside the job, so that no other job can draw from the generator.
Napi::Value ModelWrap::TrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray()) throw_argument_error(env, "Expected (microBatches[], options) for trainStep");
  auto arr = info[0].As<Napi::Array>();
  auto opts = arg_object(info, 1, "trainStep options");
  std::vector<InputTensors> batches;
  for (uint32_t i = 0; i < arr.Length(); ++i) batches.push_back(read_inputs(arr.Get(i).As<Napi::Object>()));
  TORCH_CHECK(!batches.empty(), "trainStep without micro-batches (lib/models checks)");
  auto optv = req_object(opts, "optimizer");
  auto* wrap = Napi::ObjectWrap<AdamWWrap>::Unwrap(optv);
  TORCH_CHECK(wrap && wrap->model == s_, "trainStep with an optimizer of another model (lib/models checks)");
  auto optimizer = wrap->opt;
  const double max_norm = req_number(opts, "max_grad_norm"), smoothing = req_number(opts, "label_smoothing");
  const double lr = req_number(opts, "learning_rate"), loss_scale = req_number(opts, "loss_scale");
  const auto autocast = parse_autocast_dtype(req_string(opts, "autocast"));
  const auto seed = req_int_or_null(opts, "seed");
  DataParallelOptions dp;
  try {
    dp = parse_data_parallel(opts);
  } catch (const ArgumentError& e) {
    throw_argument_error(env, e.what());
  }
  auto s = s_;
  return job(env, [=]() -> Finisher {
    const auto profile = profile_scope(std::to_string(optimizer->step_count + 1));
    if (autocast) check_autocast_supported(*autocast, s->device);
    if (seed) torch::manual_seed(uint64_t(*seed));
    auto& adamw = optimizer->get(*s);
    const auto tokens = loss_tokens(*s->module(), batches);
    double total = 0;
    for (double n : tokens) total += n;
    bool stop = dp.stop;
    // Time spent in collectives (waiting for the slowest rank included): the bench's communication share.
    double comm_ms = 0;
    int64_t comm_bytes = 0;
    auto timed = [&](auto&& f) {
      const auto t0 = std::chrono::steady_clock::now();
      f();
      comm_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    };
    if (dp.group) timed([&] {
      const auto sums = all_reduce_sums(*dp.group, {total, stop ? 1.0 : 0.0});
      total = sums[0];
      stop = sums[1] > 0;
    });
    double loss = 0;
    bool finite = total > 0;  // no label token anywhere: nothing to learn from, reported like a NaN loss
    for (size_t i = 0; i < batches.size() && finite; ++i) {
      if (tokens[i] == 0) continue;
      const double w = tokens[i] / total;
      const double l = forward_backward(*s, batches[i], loss_scale * w, smoothing, autocast).loss.item<double>();
      finite = finite && std::isfinite(l);
      loss += l * w;
    }
    const auto params = s->trainable();
    if (dp.group) timed([&] {
      const auto r = all_reduce_gradients(*dp.group, params, loss, finite, dp.bucket_bytes);
      loss = r.loss_sum;
      finite = r.finite;
      comm_bytes = r.bytes;
    });
    if (total == 0) loss = std::nan("");
    double norm = 0;
    bool stepped = false;
    if (finite) {
      if (loss_scale != 1.0) unscale_grads(params, loss_scale);
      norm = clip_grad_norm(params, max_norm);
      adamw.set_lr(lr);
      stepped = std::isfinite(norm);
      if (stepped) adamw.step();
    }
    for (auto& p : s->module()->parameters()) p.mutable_grad() = torch::Tensor();
    optimizer->published();
    if (dp.group && dp.check_replicas) check_replicas(*dp.group, s->module()->parameters(), optimizer->step_count);
    return [loss, norm, stepped, stop, comm_ms, comm_bytes](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("loss", loss);
      o.Set("grad_norm", norm);
      o.Set("skipped", !stepped);
      o.Set("stop", stop);
      o.Set("comm_ms", comm_ms);
      o.Set("comm_bytes", double(comm_bytes));
      return o;
    };
  }, {info[0]});
}

// broadcastState(processGroup, bucketBytes): rank 0's parameters and buffers on every rank (DDP's start).
Napi::Value ModelWrap::BroadcastState(const Napi::CallbackInfo& info) {
  std::shared_ptr<ProcessGroup> group;
  try {
    group = process_group_from_js(info[0]);
  } catch (const ArgumentError& e) {
    throw_argument_error(info.Env(), e.what());
  }
  const int64_t bucket_bytes = info[1].As<Napi::Number>().Int64Value();
  auto s = s_;
  return job(info.Env(), [s, group, bucket_bytes]() -> Finisher {
    std::vector<torch::Tensor> state;
    for (auto& p : s->module()->parameters()) state.push_back(p);
    for (auto& b : s->module()->buffers()) state.push_back(b);
    broadcast_state(*group, state, bucket_bytes);
    return finish_undefined();
  });
}

Napi::Value ModelWrap::Generate(const Napi::CallbackInfo& info) {
  auto px = tensor_from_js(info[0], "pixel_values");
  const GenerateOptions o = parse_generate_options(arg_object(info, 1, "generate options"));
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    const auto profile = profile_scope("generate." + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    auto r = generate(*s->module(), s->input(px, true), o);
    auto sequences = to_host(r.sequences, Ownership::kFresh);
    std::optional<HostTensor> scores;
    if (r.sequences_scores.defined()) scores = to_host(r.sequences_scores, Ownership::kFresh);
    return [sequences, scores](Napi::Env env) -> Napi::Value {
      auto out = Napi::Object::New(env);
      out.Set("sequences", tensor_to_js(env, sequences));
      if (scores) out.Set("sequences_scores", tensor_to_js(env, *scores));
      return out;
    };
  }, {info[0]});
}

Napi::Value ModelWrap::Gradients(const Napi::CallbackInfo& info) {
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    NamedTensors grads;
    for (const auto& p : s->module()->named_parameters(true))
      if (p.value().grad().defined()) grads.emplace_back(p.key(), p.value().grad());
    auto host = to_host(grads);
    return [host](Napi::Env env) -> Napi::Value { return named_to_js(env, host); };
  });
}

// Replaces the gradients of the named parameters (custom training loops, optimizer tests).
Napi::Value ModelWrap::SetGradients(const Napi::CallbackInfo& info) {
  NamedTensors grads = named_from_js(arg_object(info, 0, "setGradients"), "setGradients");
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    std::unordered_map<std::string, torch::Tensor> params;
    for (const auto& p : s->module()->named_parameters(true)) params.emplace(p.key(), p.value());
    for (const auto& [name, g] : grads) {
      auto it = params.find(name);
      if (it == params.end()) throw ArgumentError("setGradients: no parameter named " + name);
      if (it->second.sizes() != g.sizes()) throw ArgumentError("setGradients: wrong shape for " + name);
      it->second.mutable_grad() = g.to(it->second.options()).clone();
    }
    return finish_undefined();
  }, {info[0]});
}

Napi::Value ModelWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    for (auto& p : s->module()->parameters()) p.mutable_grad() = torch::Tensor();
    return finish_undefined();
  });
}

Napi::Value ModelWrap::StateDict(const Napi::CallbackInfo& info) {
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    auto host = to_host(module_state(*s->module()));
    return [host](Napi::Env env) -> Napi::Value { return named_to_js(env, host); };
  });
}

Napi::Value ModelWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  NamedTensors source = named_from_js(arg_object(info, 0, "loadStateDict"), "loadStateDict");
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    auto report = load_state(*s->module(), source, [&](const std::string& n) { return s->model->ignored_on_load(n); });
    return [report](Napi::Env env) -> Napi::Value { return report_to_js(env, report); };
  }, {info[0]});
}

// One weights file: model.safetensors (or a shard of it) or pytorch_model.bin.
Napi::Value ModelWrap::LoadWeights(const Napi::CallbackInfo& info) {
  const std::string path = arg_string(info, 0, "loadWeights");
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    // Each checkpoint tensor is copied once, straight into its parameter: safetensors entries are views over
    // the mapped file; a .bin's storages are read one record at a time. Never a second copy of the model.
    StateLoader loader(*s->module(), [s](const std::string& n) { return s->model->ignored_on_load(n); });
    if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".bin") == 0) {
      for_each_torch_pickle_tensor(path, [&](const std::string& name, const torch::Tensor& t) { loader.load(name, t); });
    } else {
      SafetensorsFile file(path);
      for (const auto& e : file.header().tensors) loader.load(e.name, file.view(e));
    }
    auto report = loader.finish();
    return [report](Napi::Env env) -> Napi::Value { return report_to_js(env, report); };
  });
}

Napi::Value ModelWrap::SaveSafetensors(const Napi::CallbackInfo& info) {
  const std::string path = arg_string(info, 0, "saveSafetensors");
  std::vector<std::pair<std::string, std::string>> metadata{{"format", "pt"}};
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    // Written as HF writes it: float32 unless the model was moved to another dtype, tied lm_head omitted
    // (it is never registered separately when tied).
    write_safetensors(path, module_state(*s->module()), metadata);
    return finish_undefined();
  });
}

Napi::Value ModelWrap::InitWeights(const Napi::CallbackInfo& info) {
  auto opts = arg_object(info, 0, "initWeights");
  const uint64_t seed = uint64_t(req_int(opts, "seed"));
  std::shared_ptr<std::set<std::string>> only;
  if (!opts.Get("only").IsNull()) {
    auto names = req_string_list(opts, "only");
    only = std::make_shared<std::set<std::string>>(names.begin(), names.end());
  }
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    s->module()->init_weights(seed, only.get());
    return finish_undefined();
  });
}

Napi::Value ModelWrap::SetTraining(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw_argument_error(info.Env(), "Expected a boolean for setTraining");
  const bool on = info[0].As<Napi::Boolean>().Value();
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    s->module()->train(on);
    return finish_undefined();
  });
}

// Updates decoder_start/pad/eos token ids after construction (e.g. filled in from the tokenizer).
Napi::Value ModelWrap::SetSpecialTokens(const Napi::CallbackInfo& info) {
  auto o = arg_object(info, 0, "setSpecialTokens");
  const int64_t start = req_int_or_null(o, "decoder_start_token_id").value_or(-1);
  const int64_t pad = req_int_or_null(o, "pad_token_id").value_or(-1);
  const int64_t eos = req_int_or_null(o, "eos_token_id").value_or(-1);
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    s->module()->set_special_tokens(start, pad, eos);
    return finish_undefined();
  });
}

Napi::Value ModelWrap::To(const Napi::CallbackInfo& info) {
  const std::string device_name = arg_string(info, 0, "to(device)");
  const std::string dtype_name = arg_string(info, 1, "to(dtype)");
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    const auto device = parse_device(device_name);
    const auto dtype = parse_dtype(dtype_name);
    // libtorch's Module::to(device, dtype) would also convert integer buffers (Swin's
    // relative_position_index); move first, then change the dtype of floating tensors only.
    s->module()->to(device);
    torch::NoGradGuard no_grad;
    for (auto& p : s->model->parameters())
      if (p.is_floating_point() && p.scalar_type() != dtype) p.set_data(p.to(dtype));
    for (auto& b : s->model->buffers())
      if (b.is_floating_point() && b.scalar_type() != dtype) b.set_data(b.to(dtype));
    s->device = device;
    s->dtype = dtype;
    s->publish();
    return finish_undefined();
  });
}

// The synchronous queries read the snapshot the last finished job published: never the module itself.
Napi::Value ModelWrap::Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), s_->snapshot().device); }

Napi::Value ModelWrap::ParameterInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto snap = s_->snapshot();
  auto out = Napi::Array::New(env, snap.params.size());
  uint32_t i = 0;
  for (const auto& p : snap.params) {
    auto o = Napi::Object::New(env);
    o.Set("name", p.name);
    auto shape = Napi::Array::New(env, p.shape.size());
    for (size_t d = 0; d < p.shape.size(); ++d) shape.Set(uint32_t(d), double(p.shape[d]));
    o.Set("shape", shape);
    o.Set("dtype", p.dtype);
    o.Set("requiresGrad", p.requires_grad);
    o.Set("numel", double(p.numel));
    out.Set(i++, o);
  }
  return out;
}

Napi::Value ModelWrap::NumParameters(const Napi::CallbackInfo& info) {
  const bool trainable_only = info.Length() > 0 && info[0].ToBoolean().Value();
  const auto snap = s_->snapshot();
  return Napi::Number::New(info.Env(), trainable_only ? snap.num_trainable : snap.num_parameters);
}

// setVisionFrozen(frozen): requires_grad on the vision tower's parameters (the architecture names its tower).
// Resolves with {prefix, tensors}. An optimizer built afterwards holds no state for frozen parameters.
Napi::Value ModelWrap::SetVisionFrozen(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw_argument_error(info.Env(), "Expected a boolean for setVisionFrozen");
  const bool frozen = info[0].As<Napi::Boolean>().Value();
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    const int64_t n = s->module()->set_vision_frozen(frozen);
    const std::string prefix = s->model->vision_prefix();
    s->publish();
    return [n, prefix](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("prefix", prefix);
      o.Set("tensors", double(n));
      return o;
    };
  });
}

// encodeImages(pixel_values): the vision tower's last hidden state, no-grad, eval mode for the call.
Napi::Value ModelWrap::EncodeImages(const Napi::CallbackInfo& info) {
  auto px = tensor_from_js(info[0], "pixel_values");
  auto s = s_;
  return job(info.Env(), [=]() -> Finisher {
    auto hidden = to_host(s->module()->encode_images(s->input(px, true)), Ownership::kFresh);
    return [hidden](Napi::Env env) -> Napi::Value { return tensor_to_js(env, hidden); };
  }, {info[0]});
}

// testing.sleepOnModel(model, ms): a job that holds the model's strand (tests of the threading contract).
Napi::Value SleepOnModel(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsNumber()) throw_argument_error(info.Env(), "Expected (model, ms)");
  auto* m = Napi::ObjectWrap<ModelWrap>::Unwrap(info[0].As<Napi::Object>());
  const int64_t ms = info[1].As<Napi::Number>().Int64Value();
  return run_job(info.Env(), [ms]() -> Finisher {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return [ms](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, double(ms)); };
  }, m->state()->strand);
}

void ModelWrap::Init(Napi::Env env, Napi::Object exports, Napi::Object testing) {
  auto func = DefineClass(env, "Model", {
      InstanceMethod<&ModelWrap::Build>("build"),
      InstanceMethod<&ModelWrap::Forward>("forward"),
      InstanceMethod<&ModelWrap::Backward>("backward"),
      InstanceMethod<&ModelWrap::TrainStep>("trainStep"),
      InstanceMethod<&ModelWrap::BroadcastState>("broadcastState"),
      InstanceMethod<&ModelWrap::Generate>("generate"),
      InstanceMethod<&ModelWrap::Gradients>("gradients"),
      InstanceMethod<&ModelWrap::SetGradients>("setGradients"),
      InstanceMethod<&ModelWrap::ZeroGrad>("zeroGrad"),
      InstanceMethod<&ModelWrap::StateDict>("stateDict"),
      InstanceMethod<&ModelWrap::LoadStateDict>("loadStateDict"),
      InstanceMethod<&ModelWrap::LoadWeights>("loadWeights"),
      InstanceMethod<&ModelWrap::SaveSafetensors>("saveSafetensors"),
      InstanceMethod<&ModelWrap::InitWeights>("initWeights"),
      InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
      InstanceMethod<&ModelWrap::SetSpecialTokens>("setSpecialTokens"),
      InstanceMethod<&ModelWrap::To>("to"),
      InstanceMethod<&ModelWrap::Device>("device"),
      InstanceMethod<&ModelWrap::ParameterInfo>("parameterInfo"),
      InstanceMethod<&ModelWrap::NumParameters>("numParameters"),
      InstanceMethod<&ModelWrap::SetVisionFrozen>("setVisionFrozen"),
      InstanceMethod<&ModelWrap::EncodeImages>("encodeImages"),
  });
  exports.Set("Model", func);
  testing.Set("sleepOnModel", Napi::Function::New<SleepOnModel>(env, "sleepOnModel"));
}

// ---- AdamW ----

// NativeAdamWOptions. Cheap: the optimizer state is created by its first job (OptimizerState::get).
AdamWWrap::AdamWWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AdamWWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw_argument_error(env, "Expected a Model for AdamW");
  model = Napi::ObjectWrap<ModelWrap>::Unwrap(info[0].As<Napi::Object>())->state();
  auto opts = arg_object(info, 1, "AdamW options");
  opt = std::make_shared<OptimizerState>();
  auto& o = opt->options;
  o.lr = req_number(opts, "lr");
  o.beta1 = req_number(opts, "beta1");
  o.beta2 = req_number(opts, "beta2");
  o.eps = req_number(opts, "eps");
  o.weight_decay = req_number(opts, "weight_decay");
  o.no_decay = req_string_list(opts, "no_decay");
}

Napi::Value AdamWWrap::Step(const Napi::CallbackInfo& info) {
  const double max_norm = req_number(arg_object(info, 0, "step options"), "max_grad_norm");
  auto o = opt;
  auto m = model;
  return run_job(info.Env(), [=]() -> Finisher {
    auto& adamw = o->get(*m);
    if (max_norm > 0) clip_grad_norm(m->trainable(), max_norm);
    adamw.step();
    o->published();
    return finish_undefined();
  }, model->strand);
}

Napi::Value AdamWWrap::SetLearningRate(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw_argument_error(info.Env(), "Expected a number for setLearningRate");
  const double lr = info[0].As<Napi::Number>().DoubleValue();
  auto o = opt;
  auto m = model;
  return run_job(info.Env(), [=]() -> Finisher {
    o->get(*m).set_lr(lr);
    return finish_undefined();
  }, model->strand);
}

// Steps taken, as of the last finished optimizer job.
Napi::Value AdamWWrap::StepCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(opt->step_count.load())); }

Napi::Value AdamWWrap::StateDict(const Napi::CallbackInfo& info) {
  auto o = opt;
  auto m = model;
  return run_job(info.Env(), [=]() -> Finisher {
    auto& adamw = o->get(*m);
    auto host = to_host(adamw.state());
    const int64_t step = adamw.step_count();
    return [host, step](Napi::Env env) -> Napi::Value {
      auto out = Napi::Object::New(env);
      out.Set("step", double(step));
      out.Set("tensors", named_to_js(env, host));
      return out;
    };
  }, model->strand);
}

Napi::Value AdamWWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  auto obj = arg_object(info, 0, "the optimizer state");
  const int64_t step = req_int(obj, "step");
  NamedTensors source = named_from_js(req_object(obj, "tensors"), "the optimizer state");
  auto o = opt;
  auto m = model;
  return run_job(info.Env(), [=]() -> Finisher {
    o->get(*m).load_state(step, source);
    o->published();
    return finish_undefined();
  }, model->strand, {info[0]});
}

void AdamWWrap::Init(Napi::Env env, Napi::Object exports) {
  auto func = DefineClass(env, "AdamW", {
      InstanceMethod<&AdamWWrap::Step>("step"),
      InstanceMethod<&AdamWWrap::SetLearningRate>("setLearningRate"),
      InstanceMethod<&AdamWWrap::StateDict>("stateDict"),
      InstanceMethod<&AdamWWrap::LoadStateDict>("loadStateDict"),
      InstanceMethod<&AdamWWrap::StepCount>("stepCount"),
  });
  exports.Set("AdamW", func);
}

}  // namespace

void InitModel(Napi::Env env, Napi::Object exports, Napi::Object testing) {
  ModelWrap::Init(env, exports, testing);
  AdamWWrap::Init(env, exports);
}

}  // namespace tc
