// Reference image provider: the test image compiled into test_image.h (already preprocessed
// and quantized by edgecxr). Replace with your camera or file reader.
#include "image_provider.h"

#include <string.h>

#include "test_image.h"

bool GetImage(int width, int height, int channels, int8_t* image) {
  if (width * height * channels != EDGECXR_TEST_IMAGE_SIZE) return false;
  memcpy(image, edgecxr_test_image, EDGECXR_TEST_IMAGE_SIZE);
  return true;
}
