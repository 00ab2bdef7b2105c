// Architectures by model_type: the captioners, and the vision encoders and text decoders a VisionEncoderDecoder
// combines. A factory reads the architecture's config now (on the main thread, from the
// object the JS layer built) and builds the module later (in a job). Adding an architecture is adding its
// file pair and one line in registry.cc.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/config_source.h"
#include "models/captioner.h"
#include "models/parts.h"

namespace tc {

using EncoderFactory = std::function<std::shared_ptr<VisionEncoderImpl>()>;
using DecoderFactory = std::function<std::shared_ptr<TextDecoderImpl>()>;
using CaptionModelFactory = std::function<std::shared_ptr<CaptionModelImpl>()>;

// By config.string("model_type"); throws ArgumentError naming the supported types for an unknown one.
EncoderFactory encoder_factory(const ConfigSource& config);
DecoderFactory decoder_factory(const ConfigSource& config);
// The captioner by the top-level model_type: vision-encoder-decoder (encoder and decoder by theirs), git, blip.
CaptionModelFactory caption_model_factory(const ConfigSource& config);

}  // namespace tc
