// Pillow-exact resampling (see resample.h). Written from the behaviour of Pillow 9.4's libImaging
// (Resample.c, Geometry.c); every floating-point expression keeps Pillow's operand order and types so the
// fixed-point coefficients, and therefore the output bytes, are identical.
#include "image/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace tc {
namespace {

constexpr double kPi = 3.14159265358979323846;  // M_PI
// 8 bits for the result, 2 bits of headroom for negative lobes / sums above 1.0 (Pillow's PRECISION_BITS).
constexpr int kPrecisionBits = 32 - 8 - 2;

double box_filter(double x) {
  return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
}

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * kPi;
  // Pillow writes the window constants as float literals (0.54f, 0.46f) inside a double expression.
  return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc_filter(double x) {
  if (x == 0.0) return 1.0;
  x = x * kPi;
  return std::sin(x) / x;
}

double lanczos_filter(double x) {
  if (-3.0 <= x && x < 3.0) return sinc_filter(x) * sinc_filter(x / 3);
  return 0.0;
}

struct Filter {
  double (*fn)(double);
  double support;
};

Filter filter_for(int filter) {
  switch (filter) {
    case kBox: return {box_filter, 0.5};
    case kBilinear: return {bilinear_filter, 1.0};
    case kHamming: return {hamming_filter, 1.0};
    case kBicubic: return {bicubic_filter, 2.0};
    case kLanczos: return {lanczos_filter, 3.0};
    default: throw std::invalid_argument("unsupported resampling filter " + std::to_string(filter));
  }
}

// Per output position: first source index, tap count, and `ksize` fixed-point coefficients.
struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;   // [xmin, count] per output position
  std::vector<int32_t> kk;   // out_size * ksize
};

Coeffs precompute_coeffs(int in_size, int out_size, const Filter& filter) {
  // Pillow passes the box as floats: in0 = 0.0f, in1 = (float)in_size.
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  double filterscale = scale;
  if (filterscale < 1.0) filterscale = 1.0;
  const double support = filter.support * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(out_size) * 2);
  c.kk.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(static_cast<size_t>(c.ksize));
  for (int xx = 0; xx < out_size; xx++) {
    const double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; x++) {
      const double w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    int32_t* out = &c.kk[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; x++) {
      double v = k[x];
      if (ww != 0.0) v /= ww;
      // Round half away from zero into 22-bit fixed point.
      out[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                     : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[static_cast<size_t>(xx) * 2] = xmin;
    c.bounds[static_cast<size_t>(xx) * 2 + 1] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t ss) {
  const int32_t v = ss >> kPrecisionBits;  // arithmetic shift, as in Pillow
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass over source rows [row0, row0 + rows): src row stride w*3, dst row stride out_w*3.
void horizontal_pass(const uint8_t* src, int w, int row0, int rows, uint8_t* dst, int out_w, const Coeffs& c) {
  (void)w;
  const size_t src_stride = static_cast<size_t>(w) * 3;
  const size_t dst_stride = static_cast<size_t>(out_w) * 3;
  for (int yy = 0; yy < rows; yy++) {
    const uint8_t* in = src + static_cast<size_t>(yy + row0) * src_stride;
    uint8_t* out = dst + static_cast<size_t>(yy) * dst_stride;
    for (int xx = 0; xx < out_w; xx++) {
      const int xmin = c.bounds[static_cast<size_t>(xx) * 2];
      const int xmax = c.bounds[static_cast<size_t>(xx) * 2 + 1];
      const int32_t* k = &c.kk[static_cast<size_t>(xx) * c.ksize];
      int32_t ss0 = 1 << (kPrecisionBits - 1);
      int32_t ss1 = ss0;
      int32_t ss2 = ss0;
      const uint8_t* p = in + static_cast<size_t>(xmin) * 3;
      for (int x = 0; x < xmax; x++) {
        ss0 += static_cast<int32_t>(p[0]) * k[x];
        ss1 += static_cast<int32_t>(p[1]) * k[x];
        ss2 += static_cast<int32_t>(p[2]) * k[x];
        p += 3;
      }
      out[xx * 3 + 0] = clip8(ss0);
      out[xx * 3 + 1] = clip8(ss1);
      out[xx * 3 + 2] = clip8(ss2);
    }
  }
}

// Vertical pass: src is `width` pixels wide; bounds are relative to src's first row.
void vertical_pass(const uint8_t* src, int width, uint8_t* dst, int out_h, const Coeffs& c) {
  const size_t n = static_cast<size_t>(width) * 3;
  std::vector<int32_t> acc(n);
  for (int yy = 0; yy < out_h; yy++) {
    const int ymin = c.bounds[static_cast<size_t>(yy) * 2];
    const int ymax = c.bounds[static_cast<size_t>(yy) * 2 + 1];
    const int32_t* k = &c.kk[static_cast<size_t>(yy) * c.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    int32_t* a = acc.data();
    for (int y = 0; y < ymax; y++) {
      const uint8_t* row = src + static_cast<size_t>(y + ymin) * n;
      const int32_t ky = k[y];
      // Integer sums are exact, so accumulating row by row equals Pillow's per-pixel loop.
      for (size_t i = 0; i < n; i++) a[i] += static_cast<int32_t>(row[i]) * ky;
    }
    uint8_t* out = dst + static_cast<size_t>(yy) * n;
    for (size_t i = 0; i < n; i++) out[i] = clip8(a[i]);
  }
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define TC_RESAMPLE_AVX2 1
// AVX2 versions of the two passes, chosen at run time when the CPU has AVX2. Integer sums are exact, so
// computing them 8 lanes at a time in another order gives exactly Pillow's bytes.

// Horizontal pass, 8 source rows at a time: the rows are interleaved into a scratch block laid out
// [x][row][channel], so one tap is a multiply-add over 24 contiguous lanes (8 rows x 3 channels).
__attribute__((target("avx2")))
void horizontal_pass_avx2(const uint8_t* src, int w, int row0, int rows, uint8_t* dst, int out_w, const Coeffs& c) {
  constexpr int R = 8;
  constexpr int L = R * 3;
  const size_t src_stride = static_cast<size_t>(w) * 3;
  const size_t dst_stride = static_cast<size_t>(out_w) * 3;
  std::vector<uint8_t> block(static_cast<size_t>(w) * L + 16, 0);
  uint8_t* t = block.data();
  const __m256i half = _mm256_set1_epi32(1 << (kPrecisionBits - 1));
  alignas(32) uint8_t packed[32];
  for (int b0 = 0; b0 < rows; b0 += R) {
    const int nr = std::min(R, rows - b0);
    // Rows in increasing order with 4-byte copies: the extra byte lands on the next row's slot, which is
    // written afterwards. The last row of the block and the last pixel of each row copy exactly 3 bytes
    // (no write into the next x, no read past the source row).
    for (int r = 0; r < nr; r++) {
      const uint8_t* s = src + static_cast<size_t>(row0 + b0 + r) * src_stride;
      uint8_t* d = t + r * 3;
      const int wide = (r < R - 1) ? w - 1 : 0;
      int x = 0;
      for (; x < wide; x++) {
        uint32_t v;
        std::memcpy(&v, s, 4);
        std::memcpy(d, &v, 4);
        s += 3;
        d += L;
      }
      for (; x < w; x++) {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
        s += 3;
        d += L;
      }
    }
    for (int xx = 0; xx < out_w; xx++) {
      const int xmin = c.bounds[static_cast<size_t>(xx) * 2];
      const int xmax = c.bounds[static_cast<size_t>(xx) * 2 + 1];
      const int32_t* k = &c.kk[static_cast<size_t>(xx) * c.ksize];
      __m256i a0 = half, a1 = half, a2 = half;
      const uint8_t* p = t + static_cast<size_t>(xmin) * L;
      for (int x = 0; x < xmax; x++) {
        const __m256i kx = _mm256_set1_epi32(k[x]);
        const __m256i v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
        const __m256i v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)));
        const __m256i v2 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16)));
        a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(v0, kx));
        a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(v1, kx));
        a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(v2, kx));
        p += L;
      }
      // >> 22, then saturate to int16 and uint8: exactly clip8. packs work per 128-bit lane, so the
      // permute puts the 24 bytes back in order.
      a0 = _mm256_srai_epi32(a0, kPrecisionBits);
      a1 = _mm256_srai_epi32(a1, kPrecisionBits);
      a2 = _mm256_srai_epi32(a2, kPrecisionBits);
      const __m256i w01 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a0, a1), 0xD8);   // a0[0..8] a1[0..8] as int16
      const __m256i w2x = _mm256_permute4x64_epi64(_mm256_packs_epi32(a2, a2), 0xD8);   // a2[0..8] twice
      const __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(w01, w2x), 0xD8);  // 24 bytes in order
      _mm256_store_si256(reinterpret_cast<__m256i*>(packed), b);
      uint8_t* out = dst + static_cast<size_t>(b0) * dst_stride + static_cast<size_t>(xx) * 3;
      if (xx + 1 < out_w) {
        // 4-byte stores: the extra byte is the next output pixel of the same row, written next.
        for (int r = 0; r < nr; r++) {
          std::memcpy(out, packed + r * 3, 4);
          out += dst_stride;
        }
      } else {
        for (int r = 0; r < nr; r++) {
          out[0] = packed[r * 3 + 0];
          out[1] = packed[r * 3 + 1];
          out[2] = packed[r * 3 + 2];
          out += dst_stride;
        }
      }
    }
  }
}

__attribute__((target("avx2")))
void vertical_pass_avx2(const uint8_t* src, int width, uint8_t* dst, int out_h, const Coeffs& c) {
  const size_t n = static_cast<size_t>(width) * 3;
  const size_t nv = n / 8 * 8;
  std::vector<int32_t> acc(n + 8);
  int32_t* a = acc.data();
  const __m256i half = _mm256_set1_epi32(1 << (kPrecisionBits - 1));
  for (int yy = 0; yy < out_h; yy++) {
    const int ymin = c.bounds[static_cast<size_t>(yy) * 2];
    const int ymax = c.bounds[static_cast<size_t>(yy) * 2 + 1];
    const int32_t* k = &c.kk[static_cast<size_t>(yy) * c.ksize];
    for (size_t i = 0; i < nv; i += 8) _mm256_storeu_si256(reinterpret_cast<__m256i*>(a + i), half);
    for (size_t i = nv; i < n; i++) a[i] = 1 << (kPrecisionBits - 1);
    for (int y = 0; y < ymax; y++) {
      const uint8_t* row = src + static_cast<size_t>(y + ymin) * n;
      const int32_t ky = k[y];
      const __m256i kv = _mm256_set1_epi32(ky);
      for (size_t i = 0; i < nv; i += 8) {
        const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + i)));
        __m256i* ap = reinterpret_cast<__m256i*>(a + i);
        _mm256_storeu_si256(ap, _mm256_add_epi32(_mm256_loadu_si256(ap), _mm256_mullo_epi32(v, kv)));
      }
      for (size_t i = nv; i < n; i++) a[i] += static_cast<int32_t>(row[i]) * ky;
    }
    uint8_t* out = dst + static_cast<size_t>(yy) * n;
    for (size_t i = 0; i < nv; i += 8) {
      const __m256i v = _mm256_srai_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)), kPrecisionBits);
      const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(w16, w16));
    }
    for (size_t i = nv; i < n; i++) out[i] = clip8(a[i]);
  }
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

// Pillow's COORD(): truncation toward zero, -1 for negatives.
inline int coord(double v) {
  return v < 0.0 ? -1 : static_cast<int>(v);
}

// PIL resize with NEAREST: ImagingScaleAffine with a = [w / out_w, 0, 0, 0, h / out_h, 0], fill = 1.
void nearest_rgb8(const uint8_t* src, int w, int h, uint8_t* dst, int out_w, int out_h) {
  const double a0 = static_cast<double>(static_cast<float>(w) - 0.0f) / out_w;
  const double a4 = static_cast<double>(static_cast<float>(h) - 0.0f) / out_h;
  std::vector<int> xintab(static_cast<size_t>(out_w), -1);
  double xo = 0.0 + a0 * 0.5;
  for (int x = 0; x < out_w; x++) {
    const int xin = coord(xo);
    if (xin >= 0 && xin < w) xintab[x] = xin;
    xo += a0;
  }
  double yo = 0.0 + a4 * 0.5;
  const size_t src_stride = static_cast<size_t>(w) * 3;
  for (int y = 0; y < out_h; y++) {
    const int yi = coord(yo);
    uint8_t* out = dst + static_cast<size_t>(y) * out_w * 3;
    if (yi >= 0 && yi < h) {
      const uint8_t* in = src + static_cast<size_t>(yi) * src_stride;
      for (int x = 0; x < out_w; x++) {
        const int xi = xintab[x];
        if (xi >= 0) {
          std::memcpy(out + x * 3, in + static_cast<size_t>(xi) * 3, 3);
        } else {
          std::memset(out + x * 3, 0, 3);
        }
      }
    } else {
      std::memset(out, 0, static_cast<size_t>(out_w) * 3);
    }
    yo += a4;
  }
}

void check_size(int v, const char* name) {
  if (v < 1) throw std::invalid_argument(std::string("Expected a positive size for ") + name + " but received " + std::to_string(v));
}

}  // namespace

bool is_valid_filter(int filter) {
  return filter >= kNearest && filter <= kHamming;
}

namespace {

void resample_impl(const uint8_t* src, int w, int h, uint8_t* dst, int out_w, int out_h, int filter, bool vectorized) {
  check_size(w, "width");
  check_size(h, "height");
  check_size(out_w, "output width");
  check_size(out_h, "output height");
  if (!is_valid_filter(filter)) throw std::invalid_argument("unsupported resampling filter " + std::to_string(filter));
  // Image.resize returns a copy when the size does not change, whatever the filter.
  if (w == out_w && h == out_h) {
    std::memcpy(dst, src, static_cast<size_t>(w) * h * 3);
    return;
  }
  if (filter == kNearest) {
    nearest_rgb8(src, w, h, dst, out_w, out_h);
    return;
  }
#ifdef TC_RESAMPLE_AVX2
  vectorized = vectorized && cpu_has_avx2();
#else
  vectorized = false;
#endif
  auto hpass = [vectorized](const uint8_t* s, int sw, int row0, int rows, uint8_t* d, int ow, const Coeffs& c) {
#ifdef TC_RESAMPLE_AVX2
    if (vectorized) return horizontal_pass_avx2(s, sw, row0, rows, d, ow, c);
#endif
    horizontal_pass(s, sw, row0, rows, d, ow, c);
  };
  auto vpass = [vectorized](const uint8_t* s, int width, uint8_t* d, int oh, const Coeffs& c) {
#ifdef TC_RESAMPLE_AVX2
    if (vectorized) return vertical_pass_avx2(s, width, d, oh, c);
#endif
    vertical_pass(s, width, d, oh, c);
  };
  const Filter f = filter_for(filter);
  const bool need_horizontal = w != out_w;
  const bool need_vertical = h != out_h;
  if (!need_vertical) {
    const Coeffs ch = precompute_coeffs(w, out_w, f);
    hpass(src, w, 0, h, dst, out_w, ch);
    return;
  }
  Coeffs cv = precompute_coeffs(h, out_h, f);
  if (!need_horizontal) {
    vpass(src, w, dst, out_h, cv);
    return;
  }
  // Only the source rows the vertical pass reads go through the horizontal pass (as in Pillow).
  const int ybox_first = cv.bounds[0];
  const int ybox_last = cv.bounds[static_cast<size_t>(out_h) * 2 - 2] + cv.bounds[static_cast<size_t>(out_h) * 2 - 1];
  for (int i = 0; i < out_h; i++) cv.bounds[static_cast<size_t>(i) * 2] -= ybox_first;
  const Coeffs ch = precompute_coeffs(w, out_w, f);
  const int rows = ybox_last - ybox_first;
  std::vector<uint8_t> tmp(static_cast<size_t>(out_w) * rows * 3);
  hpass(src, w, ybox_first, rows, tmp.data(), out_w, ch);
  vpass(tmp.data(), out_w, dst, out_h, cv);
}

}  // namespace

void resample_rgb8(const uint8_t* src, int w, int h, uint8_t* dst, int out_w, int out_h, int filter) {
  resample_impl(src, w, h, dst, out_w, out_h, filter, true);
}

void resample_rgb8_reference(const uint8_t* src, int w, int h, uint8_t* dst, int out_w, int out_h, int filter) {
  resample_impl(src, w, h, dst, out_w, out_h, filter, false);
}

void normalize_chw(const uint8_t* rgb, int w, int h, const NormalizeParams& p, float* out) {
  // A lookup table per channel holds exactly the value the formula gives for each byte.
  float lut[3][256];
  for (int c = 0; c < 3; c++) {
    for (int x = 0; x < 256; x++) {
      float v = p.do_rescale ? static_cast<float>(static_cast<double>(x) * p.rescale_factor) : static_cast<float>(x);
      if (p.do_normalize) {
        volatile float centred = v - p.mean[c];  // keep the two float32 roundings (no fused ops)
        v = centred / p.std[c];
      }
      lut[c][x] = v;
    }
  }
  const size_t plane = static_cast<size_t>(w) * h;
  float* r = out;
  float* g = out + plane;
  float* b = out + 2 * plane;
  for (size_t i = 0; i < plane; i++) {
    r[i] = lut[0][rgb[i * 3 + 0]];
    g[i] = lut[1][rgb[i * 3 + 1]];
    b[i] = lut[2][rgb[i * 3 + 2]];
  }
}

void preprocess_rgb8(const uint8_t* src, int w, int h, int out_w, int out_h, int filter,
                     const NormalizeParams& params, float* out) {
  if (w == out_w && h == out_h) {
    check_size(w, "width");
    check_size(h, "height");
    if (!is_valid_filter(filter)) throw std::invalid_argument("unsupported resampling filter " + std::to_string(filter));
    normalize_chw(src, w, h, params, out);
    return;
  }
  std::vector<uint8_t> resized(static_cast<size_t>(out_w) * out_h * 3);
  resample_rgb8(src, w, h, resized.data(), out_w, out_h, filter);
  normalize_chw(resized.data(), out_w, out_h, params, out);
}

}  // namespace tc
