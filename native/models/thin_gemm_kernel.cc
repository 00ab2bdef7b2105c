#include "models/thin_gemm_kernel.h"

#include <algorithm>

namespace tc {
namespace {

// A tile is kCols output columns: each row of w contributes kCols contiguous floats (four cache lines), read once
// per group of up to four rows of x while the group's accumulators stay in registers (16 AVX-512 vectors). BLAS
// gemm instead packs w into panels first, which for a handful of rows costs more than the product itself (4-8x
// slower than this at M = 4 on the decoder's shapes), and its gemv reads w once per row.
constexpr int64_t kCols = 64;
constexpr int64_t kGroup = 4;

template <int R>
__attribute__((target_clones("avx512f", "avx2", "default")))
void tile(const float* x, int64_t ldx, int64_t K, const float* w, int64_t ldw, const float* bias, float* out, int64_t ldo) {
  float acc[R][kCols] = {};
  for (int64_t k = 0; k < K; ++k) {
    const float* wk = w + k * ldw;
    float xk[R];
    for (int r = 0; r < R; ++r) xk[r] = x[r * ldx + k];
    for (int r = 0; r < R; ++r)
      for (int64_t j = 0; j < kCols; ++j) acc[r][j] += xk[r] * wk[j];
  }
  for (int r = 0; r < R; ++r)
    for (int64_t j = 0; j < kCols; ++j) out[r * ldo + j] = bias ? acc[r][j] + bias[j] : acc[r][j];
}

// The last, narrower tile (N not a multiple of kCols, e.g. GPT-2's 50257 tokens): the same sums, fewer columns.
void tail(const float* x, int64_t ldx, int64_t rows, int64_t K, const float* w, int64_t ldw, int64_t cols, const float* bias, float* out,
          int64_t ldo) {
  float acc[kGroup][kCols] = {};
  for (int64_t k = 0; k < K; ++k) {
    const float* wk = w + k * ldw;
    for (int64_t r = 0; r < rows; ++r) {
      const float xk = x[r * ldx + k];
      for (int64_t j = 0; j < cols; ++j) acc[r][j] += xk * wk[j];
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) out[r * ldo + j] = bias ? acc[r][j] + bias[j] : acc[r][j];
}

void group(const float* x, int64_t ldx, int64_t rows, int64_t K, const float* w, int64_t ldw, const float* bias, float* out, int64_t ldo) {
  switch (rows) {
    case 1: return tile<1>(x, ldx, K, w, ldw, bias, out, ldo);
    case 2: return tile<2>(x, ldx, K, w, ldw, bias, out, ldo);
    case 3: return tile<3>(x, ldx, K, w, ldw, bias, out, ldo);
    default: return tile<4>(x, ldx, K, w, ldw, bias, out, ldo);
  }
}

// Columns [n0, n0 + cols) for every row, four rows at a time (a tile of w is small enough to stay in L2 between
// the groups).
void columns(const float* x, int64_t ldx, int64_t M, int64_t K, const float* w, int64_t ldw, int64_t n0, int64_t cols, const float* bias,
             float* out, int64_t ldo) {
  for (int64_t m0 = 0; m0 < M; m0 += kGroup) {
    const int64_t rows = std::min(kGroup, M - m0);
    const float* xm = x + m0 * ldx;
    float* om = out + m0 * ldo + n0;
    const float* b = bias ? bias + n0 : nullptr;
    if (cols == kCols) group(xm, ldx, rows, K, w + n0, ldw, b, om, ldo);
    else tail(xm, ldx, rows, K, w + n0, ldw, cols, b, om, ldo);
  }
}

// nn.Linear layout: kOutBlock weight rows (output columns) at a time against up to four rows of x, 16 lanes each,
// so every load of x serves four weight rows and every load of w four rows of x (16 AVX-512 accumulators).
constexpr int64_t kLanes = 16;
constexpr int64_t kOutBlock = 4;

template <int R, int C>
__attribute__((target_clones("avx512f", "avx2", "default")))
void dot_block(const float* x, int64_t ldx, int64_t K, const float* w, int64_t ldw, const float* bias, float* out, int64_t ldo) {
  float acc[R][C][kLanes] = {};
  const int64_t full = K / kLanes * kLanes;
  for (int64_t k = 0; k < full; k += kLanes)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c)
        for (int64_t j = 0; j < kLanes; ++j) acc[r][c][j] += x[r * ldx + k + j] * w[c * ldw + k + j];
  for (int64_t k = full; k < K; ++k)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c][k - full] += x[r * ldx + k] * w[c * ldw + k];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float s = acc[r][c][0];
      for (int64_t j = 1; j < kLanes; ++j) s += acc[r][c][j];
      out[r * ldo + c] = bias ? s + bias[c] : s;
    }
}

template <int R>
void dot_rows(const float* x, int64_t ldx, int64_t K, const float* w, int64_t ldw, int64_t cols, const float* bias, float* out, int64_t ldo) {
  switch (cols) {
    case 1: return dot_block<R, 1>(x, ldx, K, w, ldw, bias, out, ldo);
    case 2: return dot_block<R, 2>(x, ldx, K, w, ldw, bias, out, ldo);
    case 3: return dot_block<R, 3>(x, ldx, K, w, ldw, bias, out, ldo);
    default: return dot_block<R, 4>(x, ldx, K, w, ldw, bias, out, ldo);
  }
}

// Output columns [n0, n0 + cols) (cols <= kOutBlock) for every row, four rows at a time.
void dot_columns(const float* x, int64_t ldx, int64_t M, int64_t K, const float* w, int64_t ldw, int64_t n0, int64_t cols, const float* bias,
                 float* out, int64_t ldo) {
  for (int64_t m0 = 0; m0 < M; m0 += kGroup) {
    const float* xm = x + m0 * ldx;
    const float* wn = w + n0 * ldw;
    const float* b = bias ? bias + n0 : nullptr;
    float* om = out + m0 * ldo + n0;
    switch (std::min(kGroup, M - m0)) {
      case 1: dot_rows<1>(xm, ldx, K, wn, ldw, cols, b, om, ldo); break;
      case 2: dot_rows<2>(xm, ldx, K, wn, ldw, cols, b, om, ldo); break;
      case 3: dot_rows<3>(xm, ldx, K, wn, ldw, cols, b, om, ldo); break;
      default: dot_rows<4>(xm, ldx, K, wn, ldw, cols, b, om, ldo); break;
    }
  }
}

}  // namespace

void thin_gemm_nk_f32(const float* x, int64_t ldx, int64_t M, int64_t K, const float* w, int64_t ldw, int64_t N, const float* bias,
                      float* out, int64_t ldo, int threads) {
  const int64_t blocks = (N + kOutBlock - 1) / kOutBlock;
#pragma omp parallel for num_threads(std::max(1, threads)) schedule(static) if (threads > 1 && blocks > 1)
  for (int64_t t = 0; t < blocks; ++t) {
    const int64_t n0 = t * kOutBlock;
    dot_columns(x, ldx, M, K, w, ldw, n0, std::min(kOutBlock, N - n0), bias, out, ldo);
  }
}

void thin_gemm_f32(const float* x, int64_t ldx, int64_t M, int64_t K, const float* w, int64_t ldw, int64_t N, const float* bias, float* out,
                   int64_t ldo, int threads) {
  const int64_t tiles = (N + kCols - 1) / kCols;
#pragma omp parallel for num_threads(std::max(1, threads)) schedule(static) if (threads > 1 && tiles > 1)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t n0 = t * kCols;
    columns(x, ldx, M, K, w, ldw, n0, std::min(kCols, N - n0), bias, out, ldo);
  }
}

}  // namespace tc
