// Board hooks for QEMU's MPS2/MPS3 boards (every Cortex-M core). Input: the preprocessed int8
// images that the host wrote, one after another, to EDGECXR_IMAGES_FILE (its name comes from
// generated/boards.mk; read through semihosting); without that file,
// the self-test image compiled into test_image.h, once. Output: the semihosting console.
// Time: QEMU run with -icount shift=0 advances its virtual clock 1 ns per instruction, so the
// core's SysTick (architectural: the same on every Cortex-M, whatever the board's peripherals;
// clocked at the board's 20-32 MHz of virtual time, its 24-bit wraps counted in an interrupt)
// counts instructions; it is calibrated at boot against a loop of known length. These are
// instruction counts, not cycles: QEMU models no pipeline, caches or flash wait states.
#include <stdint.h>
#include <string.h>

#include "edgecxr_app.h"
#include "edgecxr_board.h"
#include "semihosting.h"
#include "test_image.h"

#ifndef EDGECXR_IMAGES_FILE
#error "EDGECXR_IMAGES_FILE comes from generated/boards.mk (IMAGES_FILE) through the Makefile"
#endif

extern uint32_t edgecxr_stack_peak(void);

typedef struct {
  volatile uint32_t ctrl, load, val, calib;
} SysTickRegs;
#define SYSTICK ((SysTickRegs*)0xE000E010u)
#define ICSR (*(volatile uint32_t*)0xE000ED04u) /* bit 26: the SysTick interrupt is pending */
#define WRAP (1u << 24) /* SysTick counts down from WRAP - 1 */
#define SPIN_LOOPS 1000000u
#define SPIN_INSTRUCTIONS (2ull * SPIN_LOOPS) /* Spin(): subs, bne per iteration */

static volatile uint32_t wraps = 0;
static uint64_t spin_ticks = SPIN_INSTRUCTIONS; /* calibration: SPIN_INSTRUCTIONS took this many ticks */
static int32_t images_file = -2;                /* -2: not opened yet; -1: absent */
static int test_image_used = 0;

/* Ticks since boot (64 bit): the wraps and the counter, read again if the handler ran in
 * between. A wrap whose interrupt is pending but not yet taken (QEMU takes interrupts between
 * translated blocks) is counted when the counter has just restarted from the top. */
static uint64_t timer_ticks(void) {
  uint32_t before, value, pending;
  do {
    before = wraps;
    value = SYSTICK->val;
    pending = (ICSR >> 26) & 1u;
  } while (before != wraps);
  return (uint64_t)(before + (pending && value >= WRAP / 2u)) * WRAP + (WRAP - 1u - value);
}

static void __attribute__((noinline)) spin(uint32_t n) { __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n)::"cc"); }

static void calibrate(void) {
  SYSTICK->load = WRAP - 1u;
  SYSTICK->val = 0u;
  SYSTICK->ctrl = 7u; /* enable, interrupt on wrap, processor clock */
  while (SYSTICK->val == 0u) {
  } /* the first clock loads the counter from LOAD (that is no wrap) */
  const uint64_t start = timer_ticks();
  spin(SPIN_LOOPS);
  const uint64_t ticks = timer_ticks() - start;
  spin_ticks = ticks ? ticks : 1u;
}

static void print_number(const char* key, uint32_t v) {
  char buf[16];
  int i = 15;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  semihosting_write0(key);
  semihosting_write0(&buf[i]);
}

void SysTick_Handler(void) { wraps = wraps + 1u; }

void edgecxr_board_print(const char* line) {
  semihosting_write0(line);
  semihosting_write0("\n");
}

int edgecxr_board_next_image(int8_t* image, uint32_t bytes) {
  if (images_file == -2) images_file = semihosting_open(EDGECXR_IMAGES_FILE, sizeof(EDGECXR_IMAGES_FILE) - 1);
  if (images_file >= 0) return semihosting_read(images_file, image, bytes) == 0;
  if (test_image_used || bytes != EDGECXR_TEST_IMAGE_SIZE) return 0;
  memcpy(image, edgecxr_test_image, bytes);
  test_image_used = 1;
  return 1;
}

uint32_t edgecxr_board_ticks(void) { return (uint32_t)(timer_ticks() * SPIN_INSTRUCTIONS / spin_ticks); }
const char* edgecxr_board_tick_unit(void) { return "instructions"; }

void edgecxr_board_fail(const char* why) {
  semihosting_write0("error: ");
  edgecxr_board_print(why);
  semihosting_exit(2);
}

// An emulated board has no LED or pin to drive: the "result" line already said the decision.
void edgecxr_board_respond(uint32_t image, const uint8_t* picked, float score) {
  (void)image;
  (void)picked;
  (void)score;
}

int main(void) {
  calibrate();
  if (edgecxr_app_setup() != 0) return 2;
  while (edgecxr_app_step()) {
  }
  print_number("done instructions_per_tick=", (uint32_t)((SPIN_INSTRUCTIONS + spin_ticks / 2u) / spin_ticks));
  print_number(" stack_peak=", edgecxr_stack_peak());
  semihosting_write0("\n");
  return 0;
}
