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

// The same product for a weight in nn.Linear's layout: w [N, K] row-major (row stride ldw), out = x @ w^T + bias.
// Each output is a dot product of two contiguous rows, summed in 16 lanes (lane j takes k = j, j + 16, ... in
// increasing order), the lanes then added 0 to 15, then the bias: again independent of M, the other rows, the
// thread count and the instruction set.
void thin_gemm_nk_f32(const float* x, int64_t ldx, int64_t M, int64_t K, const float* w, int64_t ldw, int64_t N, const float* bias,
                      float* out, int64_t ldo, int threads);

}  // namespace tc
