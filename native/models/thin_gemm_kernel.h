// out = x @ w + bias for a few rows of x (decoding: one token per sequence), float32, in one pass over w.
// Plain C++ without torch, compiled on its own with -O3 -fopenmp -ffp-contract=off (see CMakeLists.txt).
#pragma once
#include <cstdint>

namespace tc {

// x [M, K] (row stride ldx), w [K, N] row-major (row stride ldw), bias [N] or nullptr, out [M, N] (row stride ldo).
// Every output element is the sum over k in increasing order, products and sums rounded separately, then plus
// the bias: the bits of a row do not depend on M, on the other rows, on the thread count or on the instruction
// set, so a batch of requests decodes exactly as each request alone. `threads` workers split the columns.
void thin_gemm_f32(const float* x, int64_t ldx, int64_t M, int64_t K, const float* w, int64_t ldw, int64_t N, const float* bias, float* out,
                   int64_t ldo, int threads);

}  // namespace tc
