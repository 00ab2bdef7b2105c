#include "optim/adamw_kernel.h"

#include <cmath>

namespace tc {

// torch's AdamW formula per element, in float32 and in torch's order:
//   p *= 1 - lr*wd;  m = m*b1 + g*(1-b1);  v = v*b2 + (1-b2)*g*g;  p += -step_size * m / (sqrt(v)/bc2_sqrt + eps)
// The multi-tensor ops make nine passes over the parameters and their state; on a CPU the update is bound by
// memory, so one pass is what it costs. Built with -ffp-contract=off: no fused multiply-adds, so every clone
// (AVX-512, AVX2, baseline) and every rank of a data-parallel run computes the same bits (sqrt, division,
// products and sums are correctly rounded in every instruction set).
__attribute__((target_clones("avx512f", "avx2", "default")))
void adamw_update_f32(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t begin, int64_t end,
                      const AdamWScalars& s) {
  const float decay = s.decay, b1 = s.b1, c1 = s.one_minus_b1, b2 = s.b2, c2 = s.one_minus_b2, bc2 = s.bc2_sqrt, eps = s.eps, step = s.neg_step_size;
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i];
    const float pi = p[i] * decay;
    const float mi = m[i] * b1 + gi * c1;
    const float vi = v[i] * b2 + c2 * gi * gi;
    const float denom = std::sqrt(vi) / bc2 + eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + step * (mi / denom);
  }
}

}  // namespace tc
