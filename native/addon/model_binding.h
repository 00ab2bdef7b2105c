// JS classes Model and AdamW over VisionEncoderDecoder and tc::AdamW.
#pragma once
#include <napi.h>

namespace tc {
void InitModel(Napi::Env env, Napi::Object exports);
}
