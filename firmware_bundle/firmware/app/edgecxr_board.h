// Board hooks: the only part that differs between the emulated boards (boards/qemu/) and an
// Arduino board (the library's board_arduino.cpp). The main loop (edgecxr_app.cc) calls them.
#ifndef EDGECXR_BOARD_H_
#define EDGECXR_BOARD_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Serial output: one line of text ("\n" appended).
void edgecxr_board_print(const char* line);
// Fill `image` with the next preprocessed, int8-quantized image of `bytes` bytes.
// Returns 1 when an image was written, 0 when there is none (the loop then stops or waits).
int edgecxr_board_next_image(int8_t* image, uint32_t bytes);
// A free-running counter and what it counts (e.g. "instructions", "us").
uint32_t edgecxr_board_ticks(void);
const char* edgecxr_board_tick_unit(void);
// Called with a message when the model cannot run (bad model, arena too small).
void edgecxr_board_fail(const char* why);
// The application's response to a decision (TFLM person_detection's RespondToDetection seam),
// called after every "result" line: picked[i] = 1 for each label decided (EDGECXR_NUM_CLASSES
// of them, model_settings.h's EDGECXR_LABELS order; none for a multilabel model that decides no
// label) and the score the line printed. Drive an LED, a pin or a display here.
void edgecxr_board_respond(uint32_t image, const uint8_t* picked, float score);

#ifdef __cplusplus
}
#endif

#endif  // EDGECXR_BOARD_H_
