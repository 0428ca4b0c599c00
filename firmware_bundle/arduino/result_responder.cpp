// Reference result hook: one line over Serial, e.g. "label=PNEUMONIA score=0.973 time_us=41234".
#include "result_responder.h"

#include <Arduino.h>

void RespondToResult(const char* label, float score, uint32_t elapsed_us) {
  Serial.print("label=");
  Serial.print(label);
  Serial.print(" score=");
  Serial.print(score, 3);
  Serial.print(" time_us=");
  Serial.println(elapsed_us);
}
