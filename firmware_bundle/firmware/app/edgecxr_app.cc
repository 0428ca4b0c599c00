// The main loop with TensorFlow Lite Micro (ENGINE=tflm), for every board: the model from the
// generated files, exactly its operators, the arena TFLM measured, and one line of text per
// image (edgecxr_report.c, shared with edgecxr's own engine, edgecxr_app_engine.c). Only
// edgecxr_board.h differs between boards. Not a medical device.
#include "edgecxr_app.h"

#include <stdint.h>

#include "edgecxr_board.h"
#include "edgecxr_ops.h"
#include "edgecxr_report.h"
#include "model_settings.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

#ifdef EDGECXR_PROFILE_LAYERS
// Ticks spent in each operator of one Invoke(): where the instructions go.
class LayerProfiler : public tflite::MicroProfilerInterface {
 public:
  uint32_t BeginEvent(const char* tag) override {
    if (count_ >= kMax) return kMax;
    tags_[count_] = tag;
    start_[count_] = edgecxr_board_ticks();
    return count_++;
  }
  void EndEvent(uint32_t handle) override {
    if (handle < kMax) ticks_[handle] = edgecxr_board_ticks() - start_[handle];
  }
  void Report() {
    for (uint32_t i = 0; i < count_; ++i) {
      edgecxr_report_layer(i, tags_[i], ticks_[i]);
    }
    count_ = 0;
  }
  void Clear() { count_ = 0; }

 private:
  static constexpr uint32_t kMax = 128;
  const char* tags_[kMax];
  uint32_t start_[kMax];
  uint32_t ticks_[kMax];
  uint32_t count_ = 0;
};
LayerProfiler profiler;
tflite::MicroProfilerInterface* const kProfiler = &profiler;
#else
tflite::MicroProfilerInterface* const kProfiler = nullptr;
#endif

alignas(16) uint8_t tensor_arena[EDGECXR_ARENA_SIZE];
tflite::MicroInterpreter* interpreter = nullptr;
uint32_t images_done = 0;

int Fail(const char* why) {
  edgecxr_board_fail(why);
  return -1;
}

}  // namespace

int edgecxr_app_setup(void) {
  const tflite::Model* model = tflite::GetModel(EDGECXR_MODEL_DATA);
  if (model->version() != TFLITE_SCHEMA_VERSION) return Fail("model schema version differs from this TFLM");
  static EdgecxrOpResolver resolver;
  if (edgecxr_register_ops(resolver) != kTfLiteOk) return Fail("registering the model's operators failed");
  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, EDGECXR_ARENA_SIZE, nullptr,
                                                     kProfiler);
  interpreter = &static_interpreter;
  if (interpreter->AllocateTensors() != kTfLiteOk) {
    return Fail("AllocateTensors failed: the tensor arena (EDGECXR_ARENA_SIZE) is too small for the model");
  }
  const TfLiteTensor* input = interpreter->input(0);
  if (input->type != kTfLiteInt8 || input->bytes != EDGECXR_INPUT_SIZE) {
    return Fail("the model's input is not int8 of EDGECXR_INPUT_SIZE bytes");
  }
  edgecxr_report_ready(EDGECXR_ARENA_SIZE, static_cast<uint32_t>(interpreter->arena_used_bytes()));
  return 0;
}

int edgecxr_app_step(void) {
  TfLiteTensor* input = interpreter->input(0);
  if (!edgecxr_board_next_image(input->data.int8, input->bytes)) return 0;
  const uint32_t start = edgecxr_board_ticks();
  const TfLiteStatus status = interpreter->Invoke();
  const uint32_t ticks = edgecxr_board_ticks() - start;
  if (status != kTfLiteOk) return Fail("Invoke failed");

  edgecxr_report_result(images_done, interpreter->output(0)->data.int8, ticks);
#ifdef EDGECXR_PROFILE_LAYERS
  if (images_done == 0) profiler.Report();
  profiler.Clear();
#endif
  ++images_done;
  return 1;
}
