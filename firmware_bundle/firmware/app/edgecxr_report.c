// The lines every main loop prints and the decision rule (see edgecxr_report.h). The decision
// is edgecxr/device/decision.py's, case for case, and a test compares the two on every kind of
// model (binary sigmoid, binary softmax with and without a threshold, multiclass, multilabel).
#include "edgecxr_report.h"

#include "edgecxr_board.h"
#include "model_settings.h"

#ifndef EDGECXR_MULTILABEL
#define EDGECXR_MULTILABEL 0
#endif
// Labels a decision can pick: one sigmoid output decides between two labels.
#define EDGECXR_PICKED (EDGECXR_NUM_CLASSES > EDGECXR_NUM_OUTPUTS ? EDGECXR_NUM_CLASSES : EDGECXR_NUM_OUTPUTS)

typedef struct {
  char buf[256];
  uint32_t len;
} Line;

static void put(Line* l, const char* s) {
  while (*s && l->len < sizeof(l->buf) - 1) l->buf[l->len++] = *s++;
  l->buf[l->len] = 0;
}

static void put_uint(Line* l, uint32_t v) {
  char digits[11];
  char out[12];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  out[n] = 0;
  put(l, out);
}

static void put_int(Line* l, int32_t v) {
  if (v < 0) {
    put(l, "-");
    put_uint(l, (uint32_t)(-(v + 1)) + 1u);
  } else {
    put_uint(l, (uint32_t)v);
  }
}

static void put_milli(Line* l, float x) {  // x in [0, 1] with three decimals
  const uint32_t m = (uint32_t)(x * 1000.0f + 0.5f);
  put_uint(l, m / 1000u);
  put(l, ".");
  if (m % 1000u < 100u) put(l, "0");
  if (m % 1000u < 10u) put(l, "0");
  put_uint(l, m % 1000u);
}

static const char* const kLabels[EDGECXR_NUM_CLASSES] = EDGECXR_LABELS;

void edgecxr_report_ready(uint32_t arena_size, uint32_t arena_used) {
  Line l = {{0}, 0};
  put(&l, "ready model=");
  put(&l, EDGECXR_MODEL_NAME);
  put(&l, " arena_size=");
  put_uint(&l, arena_size);
  put(&l, " arena_used=");
  put_uint(&l, arena_used);
  put(&l, " unit=");
  put(&l, edgecxr_board_tick_unit());
  edgecxr_board_print(l.buf);
}

float edgecxr_decide(const int8_t* out, uint8_t* picked) {
  float scores[EDGECXR_NUM_OUTPUTS];
  int best = 0;
  for (int i = 0; i < EDGECXR_PICKED; ++i) picked[i] = 0;
  for (int i = 0; i < EDGECXR_NUM_OUTPUTS; ++i) {
    scores[i] = (float)(out[i] - EDGECXR_OUTPUT_ZERO_POINT) * EDGECXR_OUTPUT_SCALE;
    if (scores[i] > scores[best]) best = i;  // the first of equal maxima, as numpy's argmax
  }
  if (EDGECXR_MULTILABEL) {  // every label whose score >= threshold
    for (int i = 0; i < EDGECXR_NUM_OUTPUTS; ++i) picked[i] = scores[i] >= EDGECXR_THRESHOLD;
    return scores[best];
  }
  if (EDGECXR_BINARY_THRESHOLD) {  // P(LABELS[1]) >= threshold: one sigmoid, or column 1 of a pair
    const float p = scores[EDGECXR_NUM_OUTPUTS == 2 ? 1 : 0];
    const int positive = p >= EDGECXR_THRESHOLD;
    picked[positive] = 1;
    return EDGECXR_NUM_OUTPUTS == 2 ? scores[positive] : (positive ? p : 1.0f - p);
  }
  picked[best] = 1;  // argmax
  return scores[best];
}

void edgecxr_report_result(uint32_t image, const int8_t* out, uint32_t ticks) {
  uint8_t picked[EDGECXR_PICKED];
  const float score = edgecxr_decide(out, picked);
  Line l = {{0}, 0};
  int labels = 0;
  put(&l, "result image=");
  put_uint(&l, image);
  put(&l, " label=");
  for (int i = 0; i < EDGECXR_NUM_CLASSES; ++i) {
    if (!picked[i]) continue;
    put(&l, labels++ ? "+" : "");
    put(&l, kLabels[i]);
  }
  put(&l, labels ? "" : "none");
  put(&l, " score=");
  put_milli(&l, score);
  put(&l, " ");
  put(&l, edgecxr_board_tick_unit());
  put(&l, "=");
  put_uint(&l, ticks);
  put(&l, " raw=");
  for (int i = 0; i < EDGECXR_NUM_OUTPUTS; ++i) {
    put(&l, i ? "," : "");
    put_int(&l, out[i]);
  }
  edgecxr_board_print(l.buf);
  edgecxr_board_respond(image, picked, score);
}

void edgecxr_report_layer(uint32_t index, const char* op, uint32_t ticks) {
  Line l = {{0}, 0};
  put(&l, "layer index=");
  put_uint(&l, index);
  put(&l, " op=");
  put(&l, op);
  put(&l, " ticks=");
  put_uint(&l, ticks);
  edgecxr_board_print(l.buf);
}
