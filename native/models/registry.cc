#include "models/registry.h"

#include "errors.h"
#include "models/beit.h"
#include "models/bert.h"
#include "models/blip.h"
#include "models/clip_vision.h"
#include "models/deit.h"
#include "models/encoder_decoder.h"
#include "models/git.h"
#include "models/gpt2.h"
#include "models/roberta.h"
#include "models/standalone.h"
#include "models/swin.h"
#include "models/vit.h"

namespace tc {
namespace {

template <class Config, class Impl, class Base>
std::function<std::shared_ptr<Base>()> factory(const ConfigSource& source) {
  const Config config = Config::from(source);
  return [config] { return std::make_shared<Impl>(config); };
}

template <class Base>
struct Entry {
  const char* model_type;
  std::function<std::shared_ptr<Base>()> (*make)(const ConfigSource&);
};

const Entry<VisionEncoderImpl> kEncoders[] = {
    {"vit", factory<ViTConfig, ViTModelImpl, VisionEncoderImpl>},
    {"deit", factory<DeiTConfig, DeiTModelImpl, VisionEncoderImpl>},
    {"beit", factory<BeitConfig, BeitModelImpl, VisionEncoderImpl>},
    {"swin", factory<SwinConfig, SwinModelImpl, VisionEncoderImpl>},
    {"clip_vision_model", factory<CLIPVisionConfig, CLIPVisionModelImpl, VisionEncoderImpl>},
};

const Entry<TextDecoderImpl> kDecoders[] = {
    {"gpt2", factory<GPT2Config, GPT2LMHeadModelImpl, TextDecoderImpl>},
    {"bert", factory<BertConfig, BertLMHeadModelImpl, TextDecoderImpl>},
    {"roberta", factory<RobertaConfig, RobertaForCausalLMImpl, TextDecoderImpl>},
};

std::function<std::shared_ptr<CaptionModelImpl>()> encoder_decoder(const ConfigSource& source);
std::function<std::shared_ptr<CaptionModelImpl>()> standalone_encoder(const ConfigSource& source);
std::function<std::shared_ptr<CaptionModelImpl>()> standalone_decoder(const ConfigSource& source);

const Entry<CaptionModelImpl> kCaptioners[] = {
    {"vision-encoder-decoder", encoder_decoder},
    {"git", factory<GitConfig, GitForCausalLMImpl, CaptionModelImpl>},
    {"blip", factory<BlipConfig, BlipForConditionalGenerationImpl, CaptionModelImpl>},
    // ViTModel, GPT2LMHeadModel, ... on their own: the part's config nested under "encoder" / "decoder".
    {"standalone-encoder", standalone_encoder},
    {"standalone-decoder", standalone_decoder},
};

template <class Base, size_t N>
std::function<std::shared_ptr<Base>()> find(const Entry<Base> (&table)[N], const ConfigSource& config, const char* part) {
  const std::string type = config.string("model_type");
  std::string known;
  for (const auto& e : table) {
    if (type == e.model_type) return e.make(config);
    known += (known.empty() ? "" : ", ") + std::string(e.model_type);
  }
  throw ArgumentError(std::string(part) + " model_type '" + type + "' has no native implementation (have: " + known + ")");
}

std::function<std::shared_ptr<CaptionModelImpl>()> encoder_decoder(const ConfigSource& source) {
  const EncoderDecoderConfig config{encoder_factory(*source.child("encoder")), decoder_factory(*source.child("decoder"))};
  return [config] { return std::make_shared<VisionEncoderDecoderImpl>(config); };
}

std::function<std::shared_ptr<CaptionModelImpl>()> standalone_encoder(const ConfigSource& source) {
  const EncoderFactory make = encoder_factory(*source.child("encoder"));
  return [make] { return std::make_shared<StandaloneEncoderImpl>(make); };
}

std::function<std::shared_ptr<CaptionModelImpl>()> standalone_decoder(const ConfigSource& source) {
  const DecoderFactory make = decoder_factory(*source.child("decoder"));
  return [make] { return std::make_shared<StandaloneDecoderImpl>(make); };
}

}  // namespace

CaptionModelFactory caption_model_factory(const ConfigSource& config) { return find(kCaptioners, config, "model"); }
EncoderFactory encoder_factory(const ConfigSource& config) { return find(kEncoders, config, "encoder"); }
DecoderFactory decoder_factory(const ConfigSource& config) { return find(kDecoders, config, "decoder"); }

}  // namespace tc
