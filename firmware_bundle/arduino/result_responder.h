// Result hook: called after every inference with the winning label, its score in [0, 1] and
// the inference time in microseconds.
#ifndef EDGECXR_RESULT_RESPONDER_H_
#define EDGECXR_RESULT_RESPONDER_H_

#include <stdint.h>

void RespondToResult(const char* label, float score, uint32_t elapsed_us);

#endif  // EDGECXR_RESULT_RESPONDER_H_
