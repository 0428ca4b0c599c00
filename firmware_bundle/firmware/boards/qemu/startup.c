/* Start-up for the emulated MPS2/MPS3 boards (Cortex-M3/M4F/M7/M33/M55): vector table, reset handler
 * (FPU on, .data copied, .bss zeroed, the stack painted to measure its peak, constructors),
 * and fault handlers that end the emulation with a message instead of hanging. */
#include <stdint.h>
#include <string.h>

#include "semihosting.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _sstack, _estack;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
extern int main(void);

#define STACK_PAINT 0x57ACC0DEu
void *__dso_handle = 0;
void _init(void) {}

/* Bytes of stack ever used: the painted words the program has not overwritten. */
uint32_t edgecxr_stack_peak(void) {
  const uint32_t *p = &_sstack;
  while (p < &_estack && *p == STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
}

static void paint_stack(void) {
  uint32_t sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t *p = &_sstack; (uintptr_t)p < sp - 64u; ++p) *p = STACK_PAINT;
}

void Reset_Handler(void) {
#if defined(__ARM_FP)
  /* CPACR: full access to CP10/CP11 before any floating-point instruction runs */
  *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
  __asm volatile("dsb\n isb");
#endif
  memcpy(&_sdata, &_sidata, (size_t)((uintptr_t)&_edata - (uintptr_t)&_sdata));
  memset(&_sbss, 0, (size_t)((uintptr_t)&_ebss - (uintptr_t)&_sbss));
  paint_stack();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  semihosting_exit(main());
}

static void fault(const char *what) {
  semihosting_write0("error: ");
  semihosting_write0(what);
  semihosting_write0(" (the firmware crashed in the emulator)\n");
  semihosting_exit(3);
}

void HardFault_Handler(void) { fault("HardFault"); }
void MemManage_Handler(void) { fault("MemManage fault"); }
void BusFault_Handler(void) { fault("BusFault"); }
void UsageFault_Handler(void) { fault("UsageFault"); }
void Default_Handler(void) { fault("unexpected interrupt"); }
extern void SysTick_Handler(void); /* the board's timer (board_qemu.cc) */

__attribute__((section(".vectors"), used)) void (*const vector_table[16])(void) = {
    (void (*)(void))(&_estack), Reset_Handler, Default_Handler, HardFault_Handler, MemManage_Handler,
    BusFault_Handler, UsageFault_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler,
    SysTick_Handler,
};
