// Image-provider hook: fill `image` (width * height * channels int8 values) with one image,
// preprocessed like training (see INPUT_RESIZE_MODE / INPUT_NORMALIZE in model_settings.h)
// and quantized: q = round(pixel / 255 / INPUT_SCALE) + INPUT_ZERO_POINT. For a camera or
// file image resized to the input size, edgecxr_equalize() and edgecxr_quantize() in
// edgecxr_preprocess.h do exactly what training did.
// Return false when no image is ready.
#ifndef EDGECXR_IMAGE_PROVIDER_H_
#define EDGECXR_IMAGE_PROVIDER_H_

#include <stdint.h>

bool GetImage(int width, int height, int channels, int8_t* image);

#endif  // EDGECXR_IMAGE_PROVIDER_H_
