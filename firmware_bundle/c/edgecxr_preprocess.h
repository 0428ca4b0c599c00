/* On-device preprocessing that matches edgecxr's Python implementation bit for bit
 * (edgecxr_device/preprocess.py; a test compiles this file and compares it with Pillow/numpy).
 * Feed it the image already resized to EDGECXR_INPUT_WIDTH x EDGECXR_INPUT_HEIGHT, gray:
 *
 *   if EDGECXR_INPUT_NORMALIZE is "equalize":  edgecxr_equalize(pixels, EDGECXR_INPUT_SIZE);
 *   edgecxr_quantize(pixels, input->data.int8, EDGECXR_INPUT_SIZE,
 *                    EDGECXR_INPUT_SCALE, EDGECXR_INPUT_ZERO_POINT);
 *
 * C99 and C++; no allocation (1 KiB of stack for the histogram). Not a medical device. */
#ifndef EDGECXR_PREPROCESS_H_
#define EDGECXR_PREPROCESS_H_

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Histogram equalization exactly as Pillow's ImageOps.equalize on an 8-bit gray image. */
static inline void edgecxr_equalize(uint8_t *pixels, uint32_t count) {
  uint32_t hist[256] = {0};
  uint32_t i, last = 0, used = 0, step, n;
  uint8_t lut[256];
  int v;
  for (i = 0; i < count; ++i) hist[pixels[i]]++;
  for (v = 0; v < 256; ++v) {
    if (hist[v]) {
      last = hist[v];
      used++;
    }
  }
  if (used <= 1) return;
  step = (count - last) / 255u;
  if (step == 0) return;
  n = step / 2u;
  for (v = 0; v < 256; ++v) {
    uint32_t q = n / step;
    lut[v] = (uint8_t)(q > 255u ? 255u : q);
    n += hist[v];
  }
  for (i = 0; i < count; ++i) pixels[i] = lut[pixels[i]];
}

/* q = round(pixel / 255 / scale) + zero_point in float32, ties to even, clamped to int8. */
static inline void edgecxr_quantize(const uint8_t *pixels, int8_t *out, uint32_t count, float scale,
                                    int32_t zero_point) {
  uint32_t i;
  for (i = 0; i < count; ++i) {
    float x = (float)pixels[i] / 255.0f;
    long q = lrintf(x / scale) + zero_point;
    out[i] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
  }
}

#ifdef __cplusplus
}
#endif

#endif /* EDGECXR_PREPROCESS_H_ */
