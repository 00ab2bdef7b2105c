// JS classes Model and AdamW over VisionEncoderDecoder and tc::AdamW; test hooks on `testing`.
#pragma once
#include <napi.h>

namespace tc {
void InitModel(Napi::Env env, Napi::Object exports, Napi::Object testing);
}
