// The main loop every board shares (bare-metal firmware and Arduino library alike): the model
// from the generated files, exactly its operators, the arena TFLM measured, and one line of
// text per image. Only edgecxr_board.h differs between boards. Not a medical device.
#include "edgecxr_app.h"

#include <stdint.h>

#include "edgecxr_board.h"
#include "edgecxr_ops.h"
#include "model_settings.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

// Line builder: no printf (it would pull tens of KB of formatting code into flash).
class Line {
 public:
  Line& Str(const char* s) {
    while (*s && len_ < sizeof(buf_) - 1) buf_[len_++] = *s++;
    buf_[len_] = 0;
    return *this;
  }
  Line& Int(int32_t v) {
    if (v < 0) {
      Str("-");
      return Uint(static_cast<uint32_t>(-(v + 1)) + 1u);
    }
    return Uint(static_cast<uint32_t>(v));
  }
  Line& Uint(uint32_t v) {
    char digits[11];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10u);
      v /= 10u;
    } while (v);
    char out[12];
    for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    out[n] = 0;
    return Str(out);
  }
  Line& Milli(float x) {  // x in [0, 1] with three decimals
    const uint32_t m = static_cast<uint32_t>(x * 1000.0f + 0.5f);
    Uint(m / 1000u).Str(".");
    if (m % 1000u < 100u) Str("0");
    if (m % 1000u < 10u) Str("0");
    return Uint(m % 1000u);
  }
  void Print() { edgecxr_board_print(buf_); }

 private:
  char buf_[256] = {0};
  uint32_t len_ = 0;
};

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
      Line().Str("layer index=").Uint(i).Str(" op=").Str(tags_[i]).Str(" ticks=").Uint(ticks_[i]).Print();
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
const char* const kLabels[EDGECXR_NUM_CLASSES] = EDGECXR_LABELS;
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
  Line()
      .Str("ready model=")
      .Str(EDGECXR_MODEL_NAME)
      .Str(" arena_size=")
      .Uint(EDGECXR_ARENA_SIZE)
      .Str(" arena_used=")
      .Uint(static_cast<uint32_t>(interpreter->arena_used_bytes()))
      .Str(" unit=")
      .Str(edgecxr_board_tick_unit())
      .Print();
  return 0;
}

int edgecxr_app_step(void) {
  TfLiteTensor* input = interpreter->input(0);
  if (!edgecxr_board_next_image(input->data.int8, input->bytes)) return 0;
  const uint32_t start = edgecxr_board_ticks();
  const TfLiteStatus status = interpreter->Invoke();
  const uint32_t ticks = edgecxr_board_ticks() - start;
  if (status != kTfLiteOk) return Fail("Invoke failed");

  const int8_t* out = interpreter->output(0)->data.int8;
  float scores[EDGECXR_NUM_OUTPUTS];
  for (int i = 0; i < EDGECXR_NUM_OUTPUTS; ++i) {
    scores[i] = (out[i] - EDGECXR_OUTPUT_ZERO_POINT) * EDGECXR_OUTPUT_SCALE;
  }
  // The one decision rule, edgecxr_device/decision.py (evaluation and the Raspberry Pi runner use it).
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
  Line line;
  line.Str("result image=").Uint(images_done).Str(" label=").Str(kLabels[best]).Str(" score=").Milli(score);
  line.Str(" ").Str(edgecxr_board_tick_unit()).Str("=").Uint(ticks).Str(" raw=");
  for (int i = 0; i < EDGECXR_NUM_OUTPUTS; ++i) line.Str(i ? "," : "").Int(out[i]);
  line.Print();
#ifdef EDGECXR_PROFILE_LAYERS
  if (images_done == 0) profiler.Report();
  profiler.Clear();
#endif
  ++images_done;
  return 1;
}
