// What every main loop prints, whatever runs the model (TFLM or edgecxr's own engine): the
// "ready", "result" and "layer" lines, and the decision, which mirrors edgecxr/device/decision.py.
// Plain C99 on model_settings.h; no printf (it would pull tens of KB of formatting into flash).
#ifndef EDGECXR_REPORT_H_
#define EDGECXR_REPORT_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// "ready model=... arena_size=... arena_used=... unit=..."
void edgecxr_report_ready(uint32_t arena_size, uint32_t arena_used);
// The decision on the int8 outputs (EDGECXR_NUM_OUTPUTS of them): picked[i] (one per label) = 1 for every label
// decided (one label, or for a multilabel model each over the threshold); returns the score
// printed with it (the decided label's; multilabel: the highest).
float edgecxr_decide(const int8_t* out, uint8_t* picked);
// "result image=N label=A[+B...] score=0.xyz instructions=N raw=q0,q1,..." (label "none" when a
// multilabel model decides no label); then hands the decision to edgecxr_board_respond.
void edgecxr_report_result(uint32_t image, const int8_t* out, uint32_t ticks);
// "layer index=N op=NAME ticks=N"
void edgecxr_report_layer(uint32_t index, const char* op, uint32_t ticks);

#ifdef __cplusplus
}
#endif

#endif  // EDGECXR_REPORT_H_
