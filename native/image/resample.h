// Image resampling and normalization with Pillow's exact arithmetic (pure C++17: no torch, no N-API).
//
// resample_rgb8 reproduces Pillow 9.4 `Image.resize(size, resample)` on an RGB image (reducing_gap=None, no
// box): the separable convolution of libImaging/Resample.c (filters scaled by the downscale factor, taps
// centred at (i + 0.5) * scale, coefficients normalized then converted to 22-bit fixed point, horizontal
// pass first, uint8 rounding between the passes, a pass skipped when its axis keeps its size) and, for
// NEAREST, the nearest-neighbour affine scale of libImaging/Geometry.c. The output is bit-identical to PIL.
//
// normalize_chw turns interleaved RGB uint8 into planar float32 with the arithmetic of Hugging Face image
// processors: v = float32(double(x) * rescale_factor) (equal to float32(x) / 255 for 1/255), then
// (v - float32(mean)) / float32(std) in float32.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tc {

// PIL's resampling filter numbers (PIL.Image.Resampling).
enum ResampleFilter : int {
  kNearest = 0,
  kLanczos = 1,
  kBilinear = 2,
  kBicubic = 3,
  kBox = 4,
  kHamming = 5,
};

// True for 0..5.
bool is_valid_filter(int filter);

// Resize interleaved RGB (3 bytes per pixel, rows packed) from w x h to out_w x out_h. `dst` holds
// out_w * out_h * 3 bytes and must not overlap `src`. Sizes must be >= 1; throws std::invalid_argument
// on bad arguments. Same size in both axes copies.
void resample_rgb8(const uint8_t* src, int w, int h, uint8_t* dst, int out_w, int out_h, int filter);

// The same resize with plain scalar loops shaped like Pillow's (no vector code): the reference the
// vectorized path is tested against. Same output bytes, slower.
void resample_rgb8_reference(const uint8_t* src, int w, int h, uint8_t* dst, int out_w, int out_h, int filter);

// Filled from the ImageProcessor's config (lib/processing holds the defaults).
struct NormalizeParams {
  bool do_rescale{};
  double rescale_factor{};
  bool do_normalize{};
  float mean[3]{};
  float std[3]{};
};

// Interleaved RGB uint8 [h, w, 3] -> planar float32 [3, h, w] (writes 3 * w * h floats to `out`).
void normalize_chw(const uint8_t* rgb, int w, int h, const NormalizeParams& params, float* out);

// resample_rgb8 followed by normalize_chw, writing 3 * out_w * out_h floats to `out`.
void preprocess_rgb8(const uint8_t* src, int w, int h, int out_w, int out_h, int filter,
                     const NormalizeParams& params, float* out);

}  // namespace tc
