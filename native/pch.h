// Precompiled header: the torch C++ API is by far the slowest part of every translation unit.
#pragma once
#include <torch/torch.h>
#include <napi.h>
#include <string>
#include <vector>
#include <unordered_map>
#include <memory>
#include <mutex>
