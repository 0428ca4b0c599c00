// ${banner}
//
// Classifies one chest X-ray with TensorFlow Lite Micro and prints the label, its score and
// the inference time over Serial (115200 baud). Not a medical device.
//
// Hooks to replace for a real device: GetImage() in image_provider.cpp (the reference one
// returns the test image compiled into test_image.h) and RespondToResult() in
// result_responder.cpp. Every number comes from the generated model_settings.h.

#include <TensorFlowLite.h>
#include <${name}_model.h>
#include <model_settings.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "image_provider.h"
#include "result_responder.h"

namespace {
const tflite::Model* model = nullptr;
tflite::MicroInterpreter* interpreter = nullptr;
TfLiteTensor* input = nullptr;
const char* const kLabels[EDGECXR_NUM_CLASSES] = EDGECXR_LABELS;
// The tensor arena TFLM measured for this model plus a margin, aligned as TFLM requires.
alignas(16) uint8_t tensor_arena[EDGECXR_ARENA_SIZE];

void Fail(const char* why) {
  Serial.print("error: ");
  Serial.println(why);
  while (true) delay(1000);
}
}  // namespace

void setup() {
  tflite::InitializeTarget();
  Serial.begin(115200);
  while (!Serial && millis() < 5000) {}

  model = tflite::GetModel(EDGECXR_MODEL_DATA);
  if (model->version() != TFLITE_SCHEMA_VERSION) Fail("model schema version differs from this TFLM");

  // Exactly the operators the model uses (EDGECXR_TFLM_OPS in model_settings.h).
  static tflite::MicroMutableOpResolver<EDGECXR_TFLM_OP_COUNT> resolver;
${register_ops}

  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, EDGECXR_ARENA_SIZE);
  interpreter = &static_interpreter;
  if (interpreter->AllocateTensors() != kTfLiteOk) Fail("AllocateTensors failed: EDGECXR_ARENA_SIZE too small?");

  input = interpreter->input(0);
  if (input->type != kTfLiteInt8 || input->bytes != EDGECXR_INPUT_SIZE) Fail("model input is not int8 of INPUT_SIZE");
}

void loop() {
  if (!GetImage(EDGECXR_INPUT_WIDTH, EDGECXR_INPUT_HEIGHT, EDGECXR_INPUT_CHANNELS, input->data.int8)) {
    delay(1000);
    return;
  }
  const uint32_t start = micros();
  if (interpreter->Invoke() != kTfLiteOk) Fail("Invoke failed");
  const uint32_t elapsed_us = micros() - start;

  const int8_t* out = interpreter->output(0)->data.int8;
  float scores[EDGECXR_NUM_OUTPUTS];
  for (int i = 0; i < EDGECXR_NUM_OUTPUTS; ++i) {
    scores[i] = (out[i] - EDGECXR_OUTPUT_ZERO_POINT) * EDGECXR_OUTPUT_SCALE;
  }
  // The same rule as edgecxr's evaluation and the Raspberry Pi runner.
  int best = 0;
  float score = scores[0];
  if (EDGECXR_OUTPUT_SIGMOID && EDGECXR_NUM_OUTPUTS == 1) {  // one sigmoid: P(LABELS[1])
    best = scores[0] >= EDGECXR_THRESHOLD ? 1 : 0;
    score = best ? scores[0] : 1.0f - scores[0];
  } else if (EDGECXR_BINARY_THRESHOLD && EDGECXR_NUM_OUTPUTS == 2) {  // threshold chosen on validation
    best = scores[1] >= EDGECXR_THRESHOLD ? 1 : 0;
    score = scores[best];
  } else {
    for (int i = 1; i < EDGECXR_NUM_OUTPUTS; ++i) {
      if (scores[i] > score) {
        score = scores[i];
        best = i;
      }
    }
  }
  RespondToResult(kLabels[best], score, elapsed_us);
  delay(2000);
}
