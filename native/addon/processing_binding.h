// N-API binding for image preprocessing (node-addon-api only, no torch).
//
// Registers on `exports`:
//   preprocessRgb(rgb: Uint8Array, width, height, opts, out?: Float32Array, outOffset?: number): Promise<Float32Array>
//     opts = { outWidth, outHeight, filter (PIL 0..5), doRescale, rescaleFactor, doNormalize, mean: [3], std: [3] }
//     Resizes interleaved RGB uint8 with Pillow's exact arithmetic, then rescales/normalizes into planar
//     float32 [3, outHeight, outWidth]; writes into `out` at `outOffset` (floats) when given, else into a
//     new Float32Array. Runs as a job on the addon's image pool (addon/jobs.h).
//   resampleRgb(rgb: Uint8Array, width, height, outWidth, outHeight, filter): Promise<Uint8Array>
//     The resize alone (interleaved RGB uint8 out).
//   resampleRgbReference(...same...): the resize through the plain scalar loops (tests compare the two).
// Bad arguments throw InvalidArgumentError "Expected X for Y but received Z" synchronously.
#pragma once
#include <napi.h>

void InitProcessing(Napi::Env env, Napi::Object exports);
