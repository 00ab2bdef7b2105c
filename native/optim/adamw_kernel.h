// The float32 AdamW update of a range of one parameter, in one pass over memory (plain C++, no torch: it is
// compiled on its own with -O3 so that it vectorizes; see CMakeLists.txt).
#pragma once
#include <cstdint>

namespace tc {

struct AdamWScalars {
  float decay;          // 1 - lr * weight_decay
  float b1, one_minus_b1, b2, one_minus_b2;
  float bc2_sqrt;       // sqrt(1 - beta2^step)
  float eps;
  float neg_step_size;  // -lr / (1 - beta1^step)
};

// Elements [begin, end): p, m and v are read and written once, g read once.
void adamw_update_f32(float* p, const float* g, float* m, float* v, int64_t begin, int64_t end, const AdamWScalars& s);

}  // namespace tc
