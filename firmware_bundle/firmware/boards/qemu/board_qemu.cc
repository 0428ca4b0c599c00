// Board hooks for QEMU's MPS2 boards. Input: the preprocessed int8 images that the host wrote,
// one after another, to EDGECXR_IMAGES_FILE (read through semihosting); without that file,
// the self-test image compiled into test_image.h, once. Output: the semihosting console.
// Time: QEMU run with -icount shift=0 advances its virtual clock 1 ns per instruction, so the
// CMSDK timer (25 MHz of virtual time) counts instructions; it is calibrated at boot against a
// loop of known length. These are instruction counts, not cycles: QEMU models no pipeline,
// caches or flash wait states.
#include <string.h>

#include "edgecxr_app.h"
#include "edgecxr_board.h"
#include "semihosting.h"
#include "tensorflow/lite/micro/debug_log.h"
#include "test_image.h"

#ifndef EDGECXR_IMAGES_FILE
#define EDGECXR_IMAGES_FILE "edgecxr_images.bin"
#endif

extern "C" uint32_t edgecxr_stack_peak(void);

namespace {
struct CmsdkTimer {
  volatile uint32_t ctrl, value, reload, intstatus;
};
CmsdkTimer* const kTimer = reinterpret_cast<CmsdkTimer*>(0x40000000u);
uint32_t instructions_per_tick = 1;
int32_t images_file = -2;  // -2: not opened yet; -1: absent
bool test_image_used = false;

uint32_t TimerTicks() { return 0xFFFFFFFFu - kTimer->value; }

// 2 instructions per iteration (subs, bne).
void __attribute__((noinline)) Spin(uint32_t n) { __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n)::"cc"); }

void Calibrate() {
  kTimer->reload = 0xFFFFFFFFu;
  kTimer->value = 0xFFFFFFFFu;
  kTimer->ctrl = 1u;
  constexpr uint32_t kLoops = 1000000u;
  const uint32_t start = TimerTicks();
  Spin(kLoops);
  const uint32_t ticks = TimerTicks() - start;
  instructions_per_tick = ticks ? (2u * kLoops + ticks / 2u) / ticks : 1u;
}

void PrintNumber(const char* key, uint32_t v) {
  char buf[16];
  int i = 15;
  buf[i] = 0;
  do {
    buf[--i] = static_cast<char>('0' + v % 10u);
    v /= 10u;
  } while (v);
  semihosting_write0(key);
  semihosting_write0(&buf[i]);
}
}  // namespace

extern "C" {
void edgecxr_board_print(const char* line) {
  semihosting_write0(line);
  semihosting_write0("\n");
}

int edgecxr_board_next_image(int8_t* image, uint32_t bytes) {
  if (images_file == -2) images_file = semihosting_open(EDGECXR_IMAGES_FILE, sizeof(EDGECXR_IMAGES_FILE) - 1);
  if (images_file >= 0) return semihosting_read(images_file, image, bytes) == 0;
  if (test_image_used || bytes != EDGECXR_TEST_IMAGE_SIZE) return 0;
  memcpy(image, edgecxr_test_image, bytes);
  test_image_used = true;
  return 1;
}

uint32_t edgecxr_board_ticks(void) { return TimerTicks() * instructions_per_tick; }
const char* edgecxr_board_tick_unit(void) { return "instructions"; }

void edgecxr_board_fail(const char* why) {
  semihosting_write0("error: ");
  edgecxr_board_print(why);
  semihosting_exit(2);
}

// TFLM's log hook: the message without its arguments (no printf in this firmware).
void DebugLog(const char* format, va_list) { semihosting_write0(format); }
int DebugVsnprintf(char* buffer, size_t buf_size, const char* format, va_list) {
  strncpy(buffer, format, buf_size);
  if (buf_size) buffer[buf_size - 1] = 0;
  return static_cast<int>(strlen(buffer));
}
void __cxa_pure_virtual(void) { edgecxr_board_fail("pure virtual call"); }
}

void operator delete(void*) noexcept {}
void operator delete(void*, unsigned int) noexcept {}

int main(void) {
  Calibrate();
  if (edgecxr_app_setup() != 0) return 2;
  while (edgecxr_app_step()) {
  }
  PrintNumber("done instructions_per_tick=", instructions_per_tick);
  PrintNumber(" stack_peak=", edgecxr_stack_peak());
  semihosting_write0("\n");
  return 0;
}
