// JS classes Model (any captioner: models/captioner.h) and AdamW over tc::AdamW; test hooks on `testing`.
#pragma once
#include <napi.h>

namespace tc {
void InitModel(Napi::Env env, Napi::Object exports, Napi::Object testing);
}
