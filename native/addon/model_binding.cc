#include "addon/model_binding.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <thread>
#include <mutex>
#include <set>

#include <torch/version.h>

#include "addon/bridge.h"
#include "generate/generate.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/encoder_decoder.h"
#include "optim/adamw.h"
#include "optim/amp.h"

namespace tc {
namespace {

// ---- config: the validated HF config.json object (lib/models/config.ts) copied once into structs ----

EncoderDecoderConfig parse_config(const Napi::Object& cfg) {
  EncoderDecoderConfig c;
  auto enc = cfg.Get("encoder").As<Napi::Object>();
  auto dec = cfg.Get("decoder").As<Napi::Object>();
  c.encoder_type = get_string(enc, "model_type", "");
  if (c.encoder_type == "vit") {
    auto& v = c.vit;
    v.hidden_size = get_int(enc, "hidden_size", v.hidden_size);
    v.num_hidden_layers = get_int(enc, "num_hidden_layers", v.num_hidden_layers);
    v.num_attention_heads = get_int(enc, "num_attention_heads", v.num_attention_heads);
    v.intermediate_size = get_int(enc, "intermediate_size", v.intermediate_size);
    v.image_size = get_int(enc, "image_size", v.image_size);
    v.patch_size = get_int(enc, "patch_size", v.patch_size);
    v.num_channels = get_int(enc, "num_channels", v.num_channels);
    v.layer_norm_eps = get_number(enc, "layer_norm_eps", v.layer_norm_eps);
    v.hidden_dropout_prob = get_number(enc, "hidden_dropout_prob", v.hidden_dropout_prob);
    v.attention_probs_dropout_prob = get_number(enc, "attention_probs_dropout_prob", v.attention_probs_dropout_prob);
    v.initializer_range = get_number(enc, "initializer_range", v.initializer_range);
    v.qkv_bias = get_bool(enc, "qkv_bias", v.qkv_bias);
    v.hidden_act = get_string(enc, "hidden_act", v.hidden_act);
  } else {
    auto& s = c.swin;
    s.image_size = get_int(enc, "image_size", s.image_size);
    s.patch_size = get_int(enc, "patch_size", s.patch_size);
    s.num_channels = get_int(enc, "num_channels", s.num_channels);
    s.embed_dim = get_int(enc, "embed_dim", s.embed_dim);
    s.window_size = get_int(enc, "window_size", s.window_size);
    auto depths = get_int_list(enc, "depths");
    if (!depths.empty()) s.depths = depths;
    auto heads = get_int_list(enc, "num_heads");
    if (!heads.empty()) s.num_heads = heads;
    s.mlp_ratio = get_number(enc, "mlp_ratio", s.mlp_ratio);
    s.layer_norm_eps = get_number(enc, "layer_norm_eps", s.layer_norm_eps);
    s.hidden_dropout_prob = get_number(enc, "hidden_dropout_prob", s.hidden_dropout_prob);
    s.attention_probs_dropout_prob = get_number(enc, "attention_probs_dropout_prob", s.attention_probs_dropout_prob);
    s.drop_path_rate = get_number(enc, "drop_path_rate", s.drop_path_rate);
    s.initializer_range = get_number(enc, "initializer_range", s.initializer_range);
    s.qkv_bias = get_bool(enc, "qkv_bias", s.qkv_bias);
    s.hidden_act = get_string(enc, "hidden_act", s.hidden_act);
  }
  auto& g = c.gpt2;
  g.vocab_size = get_int(dec, "vocab_size", g.vocab_size);
  g.n_positions = get_int(dec, "n_positions", g.n_positions);
  g.n_embd = get_int(dec, "n_embd", g.n_embd);
  g.n_layer = get_int(dec, "n_layer", g.n_layer);
  g.n_head = get_int(dec, "n_head", g.n_head);
  g.n_inner = get_int(dec, "n_inner", 0);
  g.layer_norm_epsilon = get_number(dec, "layer_norm_epsilon", g.layer_norm_epsilon);
  g.resid_pdrop = get_number(dec, "resid_pdrop", g.resid_pdrop);
  g.embd_pdrop = get_number(dec, "embd_pdrop", g.embd_pdrop);
  g.attn_pdrop = get_number(dec, "attn_pdrop", g.attn_pdrop);
  g.initializer_range = get_number(dec, "initializer_range", g.initializer_range);
  g.activation_function = get_string(dec, "activation_function", g.activation_function);
  g.add_cross_attention = get_bool(dec, "add_cross_attention", true);
  g.scale_attn_weights = get_bool(dec, "scale_attn_weights", true);
  g.scale_attn_by_inverse_layer_idx = get_bool(dec, "scale_attn_by_inverse_layer_idx", false);
  g.tie_word_embeddings = get_bool(dec, "tie_word_embeddings", true);
  c.decoder_start_token_id = get_int(cfg, "decoder_start_token_id", -1);
  c.pad_token_id = get_int(cfg, "pad_token_id", -1);
  c.eos_token_id = get_int(cfg, "eos_token_id", -1);
  return c;
}

torch::Device parse_device(const std::string& d) {
  if (d.empty() || d == "cpu") return torch::kCPU;
  if (d == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (d.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw std::invalid_argument("device '" + d + "' was asked for but CUDA is not available in this libtorch build "
                                  "(run `torch-caption doctor`)");
    return torch::Device(d);
  }
  throw std::invalid_argument("Expected device 'cpu', 'cuda', 'cuda:N' or 'auto' but received '" + d + "'");
}

torch::Tensor optional_tensor(const Napi::Object& inputs, const char* key) {
  Napi::Value v = inputs.Get(key);
  if (v.IsUndefined() || v.IsNull()) return {};
  return tensor_from_js(v, key);
}

Napi::Object named_to_js(Napi::Env env, const NamedTensors& named) {
  auto out = Napi::Object::New(env);
  for (const auto& [name, t] : named) out.Set(name, tensor_to_js(env, t));
  return out;
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

// ---- shared state of one model: the module, its device and the lock that serializes its jobs ----

struct ModelState {
  EncoderDecoderConfig config;
  VisionEncoderDecoder model{nullptr};
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  std::shared_ptr<std::mutex> lock = std::make_shared<std::mutex>();

  std::vector<torch::Tensor> trainable() const {
    std::vector<torch::Tensor> out;
    for (auto& p : model->parameters())
      if (p.requires_grad()) out.push_back(p);
    return out;
  }
  torch::Tensor input(const torch::Tensor& t, bool floating) const {
    return floating ? t.to(device, dtype) : t.to(device);
  }
};

class AdamWWrap;

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<ModelState> state() const { return s_; }

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Gradients(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadSafetensors(const Napi::CallbackInfo& info);
  Napi::Value SaveSafetensors(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value SetTraining(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value ParameterInfo(const Napi::CallbackInfo& info);
  Napi::Value NumParameters(const Napi::CallbackInfo& info);
  Napi::Value InitWeights(const Napi::CallbackInfo& info);
  Napi::Value SleepForTest(const Napi::CallbackInfo& info);
  Napi::Value SetGradients(const Napi::CallbackInfo& info);
  Napi::Value SetSpecialTokens(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelState> s_;
};


class AdamWWrap : public Napi::ObjectWrap<AdamWWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit AdamWWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<AdamW> opt;
  std::shared_ptr<ModelState> model;

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value StepCount(const Napi::CallbackInfo& info);
};

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected a config object for Model");
  auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  s_ = std::make_shared<ModelState>();
  try {
    s_->config = parse_config(info[0].As<Napi::Object>());
    s_->model = VisionEncoderDecoder(s_->config);
    s_->model->init_weights(uint64_t(get_int(opts, "seed", 0)));
    s_->model->eval();
    s_->device = parse_device(get_string(opts, "device", "cpu"));
    if (s_->device != torch::kCPU) s_->model->to(s_->device);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected an inputs object for forward");
  auto inputs = info[0].As<Napi::Object>();
  auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  auto px = tensor_from_js(inputs.Get("pixel_values"), "pixel_values");
  auto labels = optional_tensor(inputs, "labels");
  auto dec_ids = optional_tensor(inputs, "decoder_input_ids");
  const double smoothing = get_number(opts, "label_smoothing", 0.0);
  const bool with_logits = get_bool(opts, "logits", true);
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    torch::NoGradGuard no_grad;
    auto out = s->model->forward(s->input(px, true), labels.defined() ? s->input(labels, false) : labels,
                                 dec_ids.defined() ? s->input(dec_ids, false) : dec_ids, smoothing);
    return [out, with_logits](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      if (out.loss.defined()) o.Set("loss", out.loss.item<double>());
      if (with_logits) o.Set("logits", tensor_to_js(env, out.logits));
      o.Set("encoder_last_hidden_state", tensor_to_js(env, out.encoder_last_hidden_state));
      return o;
    };
  }, s->lock, {info[0]});
}

// forward + backward of one micro-batch; gradients accumulate. Returns the (unscaled) loss. With an
// autocast dtype only the forward pass (loss included) is autocast: backward runs outside it, as
// torch recommends and accelerate does (backward ops take the dtypes their forward ops had).
double backward_one(ModelState& s, const torch::Tensor& px, const torch::Tensor& labels, double scale, double smoothing,
                    std::optional<torch::ScalarType> autocast = std::nullopt) {
  Seq2SeqOutput out;
  {
    AutocastGuard guard(autocast, s.device.type());
    out = s.model->forward(s.input(px, true), s.input(labels, false), {}, smoothing);
  }
  const double loss = out.loss.item<double>();
  if (!std::isfinite(loss)) return loss;  // leave gradients untouched; the caller reports the step
  (out.loss * scale).backward();
  return loss;
}

Napi::Value ModelWrap::Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected an inputs object for backward");
  auto inputs = info[0].As<Napi::Object>();
  auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  auto px = tensor_from_js(inputs.Get("pixel_values"), "pixel_values");
  auto labels = tensor_from_js(inputs.Get("labels"), "labels");
  const double scale = get_number(opts, "loss_scale", 1.0), smoothing = get_number(opts, "label_smoothing", 0.0);
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    const double loss = backward_one(*s, px, labels, scale, smoothing);
    return [loss](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("loss", loss);
      return o;
    };
  }, s->lock, {info[0]});
}

Napi::Value ModelWrap::TrainStep(const Napi::CallbackInfo& info) {
  // One optimizer step in one native call: forward+backward per micro-batch (losses scaled by
  // 1/micro-batches, as the HF Trainer does), global-norm clipping, AdamW, zeroing the gradients.
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject())
    throw Napi::TypeError::New(env, "Expected (microBatches[], options) for trainStep");
  auto arr = info[0].As<Napi::Array>();
  auto opts = info[1].As<Napi::Object>();
  std::vector<std::pair<torch::Tensor, torch::Tensor>> batches;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    auto b = arr.Get(i).As<Napi::Object>();
    batches.emplace_back(tensor_from_js(b.Get("pixel_values"), "pixel_values"), tensor_from_js(b.Get("labels"), "labels"));
  }
  if (batches.empty()) throw Napi::TypeError::New(env, "Expected at least one micro-batch for trainStep");
  Napi::Value optv = opts.Get("optimizer");
  if (!optv.IsObject()) throw Napi::TypeError::New(env, "Expected an AdamW optimizer in trainStep options");
  auto* opt = Napi::ObjectWrap<AdamWWrap>::Unwrap(optv.As<Napi::Object>());
  auto optimizer = opt->opt;
  const double max_norm = get_number(opts, "max_grad_norm", 0.0), smoothing = get_number(opts, "label_smoothing", 0.0);
  const double lr = get_number(opts, "learning_rate", optimizer->lr());
  // Mixed precision: autocast dtype ('bfloat16' | 'float16' | '') and, for float16, the loss scale
  // of the caller's GradScaler. A scaled step whose gradients overflow is skipped, not applied.
  std::optional<torch::ScalarType> autocast;
  try {
    autocast = parse_autocast_dtype(get_string(opts, "autocast", ""));
    if (autocast) check_autocast_supported(*autocast, s_->device);
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(env, e.what());
  }
  const double loss_scale = get_number(opts, "loss_scale", 1.0);
  if (!(loss_scale > 0) || !std::isfinite(loss_scale))
    throw Napi::RangeError::New(env, "Expected a positive finite loss_scale but received " + std::to_string(loss_scale));
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    double loss_sum = 0;
    bool finite = true;
    for (const auto& [px, labels] : batches) {
      const double l = backward_one(*s, px, labels, loss_scale / double(batches.size()), smoothing, autocast);
      finite = finite && std::isfinite(l);
      loss_sum += l;
    }
    double norm = 0;
    bool stepped = false;
    if (finite) {
      const auto params = s->trainable();
      if (loss_scale != 1.0) unscale_grads(params, loss_scale);
      norm = clip_grad_norm(params, max_norm);
      optimizer->set_lr(lr);
      stepped = std::isfinite(norm);
      if (stepped) optimizer->step();
    }
    for (auto& p : s->model->parameters()) p.mutable_grad() = torch::Tensor();
    const double loss = loss_sum / double(batches.size());
    return [loss, norm, stepped](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("loss", loss);
      o.Set("grad_norm", norm);
      o.Set("skipped", !stepped);
      return o;
    };
  }, s->lock, {info[0], optv});
}

Napi::Value ModelWrap::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto px = tensor_from_js(info[0], "pixel_values");
  auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  GenerateOptions o;
  o.max_length = get_int(opts, "max_length", o.max_length);
  o.min_length = get_int(opts, "min_length", o.min_length);
  o.num_beams = get_int(opts, "num_beams", o.num_beams);
  o.num_return_sequences = get_int(opts, "num_return_sequences", o.num_return_sequences);
  o.no_repeat_ngram_size = get_int(opts, "no_repeat_ngram_size", o.no_repeat_ngram_size);
  o.length_penalty = get_number(opts, "length_penalty", o.length_penalty);
  o.repetition_penalty = get_number(opts, "repetition_penalty", o.repetition_penalty);
  o.early_stopping = get_bool(opts, "early_stopping", o.early_stopping);
  o.do_sample = get_bool(opts, "do_sample", o.do_sample);
  o.temperature = get_number(opts, "temperature", o.temperature);
  o.top_k = get_int(opts, "top_k", o.top_k);
  o.top_p = get_number(opts, "top_p", o.top_p);
  o.seed = uint64_t(get_int(opts, "seed", 0));
  o.decoder_start_token_id = get_int(opts, "decoder_start_token_id", s_->config.decoder_start_token_id);
  o.eos_token_id = get_int(opts, "eos_token_id", s_->config.eos_token_id);
  o.pad_token_id = get_int(opts, "pad_token_id", s_->config.pad_token_id);
  Napi::Value bad = opts.Get("bad_words_ids");
  if (bad.IsArray()) {
    auto a = bad.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      std::vector<int64_t> seq;
      auto inner = a.Get(i).As<Napi::Array>();
      for (uint32_t j = 0; j < inner.Length(); ++j) seq.push_back(inner.Get(j).As<Napi::Number>().Int64Value());
      o.bad_words_ids.push_back(seq);
    }
  }
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    auto r = generate(s->model, s->input(px, true), o);
    return [r](Napi::Env env) -> Napi::Value {
      auto out = Napi::Object::New(env);
      out.Set("sequences", tensor_to_js(env, r.sequences));
      if (r.sequences_scores.defined()) out.Set("sequences_scores", tensor_to_js(env, r.sequences_scores));
      return out;
    };
  }, s->lock, {info[0]});
}

Napi::Value ModelWrap::Gradients(const Napi::CallbackInfo& info) {
  auto s = s_;
  return run_job(info.Env(), [=]() -> Finisher {
    NamedTensors grads;
    for (const auto& p : s->model->named_parameters(true))
      if (p.value().grad().defined()) grads.emplace_back(p.key(), p.value().grad().detach().to(torch::kCPU).clone());
    return [grads](Napi::Env env) -> Napi::Value { return named_to_js(env, grads); };
  }, s->lock);
}

Napi::Value ModelWrap::StateDict(const Napi::CallbackInfo& info) {
  auto s = s_;
  return run_job(info.Env(), [=]() -> Finisher {
    NamedTensors state;
    for (auto& [name, t] : module_state(*s->model)) state.emplace_back(name, t.detach().to(torch::kCPU).clone());
    return [state](Napi::Env env) -> Napi::Value { return named_to_js(env, state); };
  }, s->lock);
}

Napi::Value ModelWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected a state object for loadStateDict");
  auto obj = info[0].As<Napi::Object>();
  NamedTensors source = named_from_js(obj, "loadStateDict");
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    auto report = load_state(*s->model, source, s->config.gpt2.tie_word_embeddings);
    return [report](Napi::Env env) -> Napi::Value { return report_to_js(env, report); };
  }, s->lock, {info[0]});
}

Napi::Value ModelWrap::LoadSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "Expected a file path for loadSafetensors");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    NamedTensors source;
    if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".bin") == 0) {
      source = read_torch_pickle(path);
    } else {
      SafetensorsFile file(path);
      for (const auto& e : file.header().tensors) source.emplace_back(e.name, file.tensor(e));
    }
    auto report = load_state(*s->model, source, s->config.gpt2.tie_word_embeddings);
    return [report](Napi::Env env) -> Napi::Value { return report_to_js(env, report); };
  }, s->lock);
}

Napi::Value ModelWrap::SaveSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "Expected a file path for saveSafetensors");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::pair<std::string, std::string>> metadata{{"format", "pt"}};
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    // Written as HF writes it: float32 unless the model was moved to another dtype, tied lm_head omitted
    // (it is never registered separately when tied).
    write_safetensors(path, module_state(*s->model), metadata);
    return finish_undefined();
  }, s->lock);
}

Napi::Value ModelWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> guard(*s_->lock);
  for (auto& p : s_->model->parameters()) p.mutable_grad() = torch::Tensor();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::SetTraining(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> guard(*s_->lock);
  s_->model->train(info.Length() > 0 && info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value ModelWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto device = parse_device(info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu");
  std::string dt = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "float32";
  torch::ScalarType dtype;
  if (dt == "float32") dtype = torch::kFloat32;
  else if (dt == "bfloat16") dtype = torch::kBFloat16;
  else if (dt == "float16") dtype = torch::kFloat16;
  else throw Napi::TypeError::New(env, "Expected dtype 'float32', 'bfloat16' or 'float16' but received '" + dt + "'");
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    // libtorch's Module::to(device, dtype) would also convert integer buffers (Swin's
    // relative_position_index); move first, then change the dtype of floating tensors only.
    s->model->to(device);
    torch::NoGradGuard no_grad;
    for (auto& p : s->model->parameters())
      if (p.is_floating_point() && p.scalar_type() != dtype) p.set_data(p.to(dtype));
    for (auto& b : s->model->buffers())
      if (b.is_floating_point() && b.scalar_type() != dtype) b.set_data(b.to(dtype));
    s->device = device;
    s->dtype = dtype;
    return finish_undefined();
  }, s->lock);
}

Napi::Value ModelWrap::Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), s_->device.str()); }

Napi::Value ModelWrap::ParameterInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> guard(*s_->lock);
  auto state = module_state(*s_->model);
  auto out = Napi::Array::New(env, state.size());
  std::set<std::string> params;
  for (const auto& p : s_->model->named_parameters(true)) params.insert(p.key());
  uint32_t i = 0;
  for (const auto& [name, t] : state) {
    auto o = Napi::Object::New(env);
    o.Set("name", name);
    auto shape = Napi::Array::New(env, t.dim());
    for (int64_t d = 0; d < t.dim(); ++d) shape.Set(uint32_t(d), double(t.size(d)));
    o.Set("shape", shape);
    o.Set("dtype", std::string(c10::toString(t.scalar_type())));
    o.Set("requiresGrad", params.count(name) > 0 && t.requires_grad());
    o.Set("numel", double(t.numel()));
    out.Set(i++, o);
  }
  return out;
}

Napi::Value ModelWrap::NumParameters(const Napi::CallbackInfo& info) {
  const bool trainable_only = info.Length() > 0 && info[0].ToBoolean().Value();
  std::lock_guard<std::mutex> guard(*s_->lock);
  double n = 0;
  for (const auto& p : s_->model->parameters())
    if (!trainable_only || p.requires_grad()) n += double(p.numel());
  return Napi::Number::New(info.Env(), n);
}

Napi::Value ModelWrap::InitWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t seed = info.Length() > 0 && info[0].IsNumber() ? uint64_t(info[0].As<Napi::Number>().Int64Value()) : 0;
  std::shared_ptr<std::set<std::string>> only;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Value names = info[1].As<Napi::Object>().Get("only");
    if (names.IsArray()) {
      only = std::make_shared<std::set<std::string>>();
      auto a = names.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) only->insert(a.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    s->model->init_weights(seed, only.get());
    return finish_undefined();
  }, s->lock);
}

Napi::Value ModelWrap::SleepForTest(const Napi::CallbackInfo& info) {
  const int64_t ms = info.Length() > 0 ? info[0].As<Napi::Number>().Int64Value() : 0;
  auto s = s_;
  return run_job(info.Env(), [=]() -> Finisher {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return [ms](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, double(ms)); };
  }, s->lock);
}

// Updates decoder_start/pad/eos token ids after construction (e.g. filled in from the tokenizer).
Napi::Value ModelWrap::SetSpecialTokens(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected {decoder_start_token_id, pad_token_id, eos_token_id}");
  auto o = info[0].As<Napi::Object>();
  std::lock_guard<std::mutex> guard(*s_->lock);
  auto& c = s_->config;
  c.decoder_start_token_id = get_int(o, "decoder_start_token_id", c.decoder_start_token_id);
  c.pad_token_id = get_int(o, "pad_token_id", c.pad_token_id);
  c.eos_token_id = get_int(o, "eos_token_id", c.eos_token_id);
  s_->model->set_special_tokens(c.decoder_start_token_id, c.pad_token_id, c.eos_token_id);
  return env.Undefined();
}

// Replaces the gradients of the named parameters (custom training loops, optimizer tests).
Napi::Value ModelWrap::SetGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected a {name: tensor} object for setGradients");
  auto obj = info[0].As<Napi::Object>();
  NamedTensors grads = named_from_js(obj, "setGradients");
  auto s = s_;
  return run_job(env, [=]() -> Finisher {
    std::unordered_map<std::string, torch::Tensor> params;
    for (const auto& p : s->model->named_parameters(true)) params.emplace(p.key(), p.value());
    for (const auto& [name, g] : grads) {
      auto it = params.find(name);
      if (it == params.end()) throw std::invalid_argument("setGradients: no parameter named " + name);
      if (it->second.sizes() != g.sizes()) throw std::invalid_argument("setGradients: wrong shape for " + name);
      it->second.mutable_grad() = g.to(it->second.options()).clone();
    }
    return finish_undefined();
  }, s->lock, {info[0]});
}

void ModelWrap::Init(Napi::Env env, Napi::Object exports) {
  auto func = DefineClass(env, "Model", {
      InstanceMethod<&ModelWrap::Forward>("forward"),
      InstanceMethod<&ModelWrap::Backward>("backward"),
      InstanceMethod<&ModelWrap::TrainStep>("trainStep"),
      InstanceMethod<&ModelWrap::Generate>("generate"),
      InstanceMethod<&ModelWrap::Gradients>("gradients"),
      InstanceMethod<&ModelWrap::StateDict>("stateDict"),
      InstanceMethod<&ModelWrap::LoadStateDict>("loadStateDict"),
      InstanceMethod<&ModelWrap::LoadSafetensors>("loadSafetensors"),
      InstanceMethod<&ModelWrap::SaveSafetensors>("saveSafetensors"),
      InstanceMethod<&ModelWrap::ZeroGrad>("zeroGrad"),
      InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
      InstanceMethod<&ModelWrap::To>("to"),
      InstanceMethod<&ModelWrap::Device>("device"),
      InstanceMethod<&ModelWrap::ParameterInfo>("parameterInfo"),
      InstanceMethod<&ModelWrap::NumParameters>("numParameters"),
      InstanceMethod<&ModelWrap::InitWeights>("initWeights"),
      InstanceMethod<&ModelWrap::SleepForTest>("sleepForTest"),
      InstanceMethod<&ModelWrap::SetGradients>("setGradients"),
      InstanceMethod<&ModelWrap::SetSpecialTokens>("setSpecialTokens"),
  });
  exports.Set("Model", func);
}

// ---- AdamW ----

AdamWWrap::AdamWWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AdamWWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected a Model for AdamW");
  auto* m = Napi::ObjectWrap<ModelWrap>::Unwrap(info[0].As<Napi::Object>());
  model = m->state();
  auto opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  AdamWOptions o;
  o.lr = get_number(opts, "lr", o.lr);
  o.beta1 = get_number(opts, "beta1", o.beta1);
  o.beta2 = get_number(opts, "beta2", o.beta2);
  o.eps = get_number(opts, "eps", o.eps);
  o.weight_decay = get_number(opts, "weight_decay", o.weight_decay);
  Napi::Value nd = opts.Get("no_decay");
  if (nd.IsArray()) {
    auto a = nd.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) o.no_decay.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  std::lock_guard<std::mutex> guard(*model->lock);
  NamedTensors params;
  for (const auto& p : model->model->named_parameters(true)) params.emplace_back(p.key(), p.value());
  opt = std::make_shared<AdamW>(params, o);
}

Napi::Value AdamWWrap::Step(const Napi::CallbackInfo& info) {
  auto opt_ = opt;
  auto opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(info.Env());
  const double max_norm = get_number(opts, "max_grad_norm", 0.0);
  auto m = model;
  return run_job(info.Env(), [=]() -> Finisher {
    if (max_norm > 0) clip_grad_norm(m->trainable(), max_norm);
    opt_->step();
    return finish_undefined();
  }, model->lock);
}

Napi::Value AdamWWrap::SetLearningRate(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> guard(*model->lock);
  opt->set_lr(info[0].As<Napi::Number>().DoubleValue());
  return info.Env().Undefined();
}

Napi::Value AdamWWrap::StepCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(opt->step_count()));
}

Napi::Value AdamWWrap::StateDict(const Napi::CallbackInfo& info) {
  auto opt_ = opt;
  return run_job(info.Env(), [=]() -> Finisher {
    NamedTensors state;
    for (auto& [n, t] : opt_->state()) state.emplace_back(n, t.detach().to(torch::kCPU).clone());
    const int64_t step = opt_->step_count();
    return [state, step](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("step", double(step));
      o.Set("tensors", named_to_js(env, state));
      return o;
    };
  }, model->lock);
}

Napi::Value AdamWWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = info[0].As<Napi::Object>();
  const int64_t step = get_int(obj, "step", 0);
  auto tensors = obj.Get("tensors").As<Napi::Object>();
  NamedTensors source = named_from_js(tensors, "the optimizer state");
  auto opt_ = opt;
  return run_job(env, [=]() -> Finisher {
    opt_->load_state(step, source);
    return finish_undefined();
  }, model->lock, {info[0]});
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

void InitModel(Napi::Env env, Napi::Object exports) {
  ModelWrap::Init(env, exports);
  AdamWWrap::Init(env, exports);
}

}  // namespace tc
