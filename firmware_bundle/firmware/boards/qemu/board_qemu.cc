// Board hooks for QEMU's MPS2/MPS3 boards (every Cortex-M core). Input: the preprocessed int8
// images that the host wrote, one after another, to EDGECXR_IMAGES_FILE (its name comes from
// generated/boards.mk; read through semihosting); without that file,
// the self-test image compiled into test_image.h, once. Output: the semihosting console.
// Time: QEMU run with -icount shift=0 advances its virtual clock 1 ns per instruction, so the
// core's SysTick (architectural: the same on every Cortex-M, whatever the board's peripherals;
// clocked at the board's 20-32 MHz of virtual time, its 24-bit wraps counted in an interrupt)
// counts instructions; it is calibrated at boot against a loop of known length. These are
// instruction counts, not cycles: QEMU models no pipeline, caches or flash wait states.
#include <string.h>

#include "edgecxr_app.h"
#include "edgecxr_board.h"
#include "semihosting.h"
#include "tensorflow/lite/micro/debug_log.h"
#include "test_image.h"

#ifndef EDGECXR_IMAGES_FILE
#error "EDGECXR_IMAGES_FILE comes from generated/boards.mk (IMAGES_FILE) through the Makefile"
#endif

extern "C" uint32_t edgecxr_stack_peak(void);

namespace {
struct SysTick {
  volatile uint32_t ctrl, load, val, calib;
};
SysTick* const kSysTick = reinterpret_cast<SysTick*>(0xE000E010u);
constexpr uint32_t kWrap = 1u << 24;  // SysTick counts down from kWrap - 1
volatile uint32_t wraps = 0;
// Calibration: kSpinInstructions instructions took spin_ticks ticks.
constexpr uint32_t kLoops = 1000000u;
constexpr uint64_t kSpinInstructions = 2ull * kLoops;
uint64_t spin_ticks = kSpinInstructions;
int32_t images_file = -2;  // -2: not opened yet; -1: absent
bool test_image_used = false;

// Ticks since boot (64 bit): the wraps and the counter, read again if a wrap came in between.
uint64_t TimerTicks() {
  uint32_t before, value;
  do {
    before = wraps;
    value = kSysTick->val;
  } while (before != wraps);
  return static_cast<uint64_t>(before) * kWrap + (kWrap - 1u - value);
}

// 2 instructions per iteration (subs, bne).
void __attribute__((noinline)) Spin(uint32_t n) { __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n)::"cc"); }

void Calibrate() {
  kSysTick->load = kWrap - 1u;
  kSysTick->val = 0u;
  kSysTick->ctrl = 7u;  // enable, interrupt on wrap, processor clock
  const uint64_t start = TimerTicks();
  Spin(kLoops);
  const uint64_t ticks = TimerTicks() - start;
  spin_ticks = ticks ? ticks : 1u;
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

void SysTick_Handler(void) { wraps = wraps + 1u; }

uint32_t edgecxr_board_ticks(void) {
  return static_cast<uint32_t>(TimerTicks() * kSpinInstructions / spin_ticks);
}
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
  PrintNumber("done instructions_per_tick=", static_cast<uint32_t>((kSpinInstructions + spin_ticks / 2u) / spin_ticks));
  PrintNumber(" stack_peak=", edgecxr_stack_peak());
  semihosting_write0("\n");
  return 0;
}
