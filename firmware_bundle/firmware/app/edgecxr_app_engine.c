// The main loop with edgecxr's own engine (ENGINE=edgecxr): the C that edgecxr generated from the
// .tflite (generated/engine/edgecxr_model.c: const weights, one static arena, edgecxr_invoke),
// no interpreter, no TFLM tree, no C++. Same board hooks and the same lines as the TFLM main loop
// (edgecxr_app.cc), through edgecxr_report.c. Not a medical device.
#include <stdint.h>

#include "edgecxr_app.h"
#include "edgecxr_board.h"
#include "engine/edgecxr_model.h"
#include "edgecxr_report.h"

static int8_t input[EDGECXR_INPUT_BYTES] __attribute__((aligned(8)));
static int8_t output[EDGECXR_OUTPUT_BYTES] __attribute__((aligned(8)));
static uint32_t images_done = 0;

#ifdef EDGECXR_PROFILE_LAYERS
#include "edgecxr_layer_hook.h"
// Ticks of each layer of the first image: the hook runs before layer i and after the last.
static uint32_t layer_start[EDGECXR_LAYERS + 1];

void edgecxr_layer_hook(int index) {
  if (images_done == 0) layer_start[index] = edgecxr_board_ticks();
}

static void report_layers(void) {
  for (uint32_t i = 0; i < EDGECXR_LAYERS; ++i) {
    edgecxr_report_layer(i, edgecxr_layer_ops[i], layer_start[i + 1] - layer_start[i]);
  }
}
#else
static void report_layers(void) {}
#endif

int edgecxr_app_setup(void) {
  edgecxr_report_ready(EDGECXR_ARENA_BYTES, EDGECXR_ARENA_BYTES);
  return 0;
}

int edgecxr_app_step(void) {
  if (!edgecxr_board_next_image(input, EDGECXR_INPUT_BYTES)) return 0;
  const uint32_t start = edgecxr_board_ticks();
  const int status = edgecxr_invoke(input, output);
  const uint32_t ticks = edgecxr_board_ticks() - start;
  if (status != 0) {
    edgecxr_board_fail("edgecxr_invoke failed");
    return 0;
  }
  edgecxr_report_result(images_done, output, ticks);
  if (images_done == 0) report_layers();
  ++images_done;
  return 1;
}
