// Board hooks for an Arduino board (see the library's edgecxr_board.h). The image comes from
// test_image.h (already preprocessed and quantized by edgecxr); replace
// edgecxr_board_next_image() with your camera or file reader: resize to the model's input,
// then edgecxr_equalize() / edgecxr_quantize() of edgecxr_preprocess.h do what training did.
#include <Arduino.h>
#include <string.h>

#include <edgecxr_board.h>
#include <model_settings.h>

#include "test_image.h"

extern "C" {
void edgecxr_board_print(const char* line) { Serial.println(line); }

int edgecxr_board_next_image(int8_t* image, uint32_t bytes) {
  if (bytes != EDGECXR_TEST_IMAGE_SIZE) return 0;
  memcpy(image, edgecxr_test_image, bytes);
  return 1;
}

uint32_t edgecxr_board_ticks(void) { return micros(); }
const char* edgecxr_board_tick_unit(void) { return "us"; }

void edgecxr_board_fail(const char* why) {
  Serial.print("error: ");
  Serial.println(why);
  while (true) delay(1000);
}

// The built-in LED shows the decision: on when a label other than the first is decided (for a
// binary model, the positive label EDGECXR_LABELS[1]), off otherwise. Replace it with what
// your device should do.
void edgecxr_board_respond(uint32_t image, const uint8_t* picked, float score) {
  (void)image;
  (void)score;
  int other = 0;
  for (int i = 1; i < EDGECXR_NUM_CLASSES; ++i) other |= picked[i];
  pinMode(LED_BUILTIN, OUTPUT);
  digitalWrite(LED_BUILTIN, other ? HIGH : LOW);
}
}
