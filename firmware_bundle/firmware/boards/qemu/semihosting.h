/* ARM semihosting (bkpt 0xab): the emulator's console and the host's files, no UART driver.
 * QEMU: -semihosting-config enable=on,target=native; file names are relative to its cwd. */
#ifndef EDGECXR_SEMIHOSTING_H_
#define EDGECXR_SEMIHOSTING_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int32_t semihosting_call(int32_t op, const void *arg) {
  register int32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static inline void semihosting_write0(const char *s) { semihosting_call(0x04, s); } /* SYS_WRITE0 */

/* SYS_OPEN: mode 1 = "rb". Returns a handle, or -1. */
static inline int32_t semihosting_open(const char *name, uint32_t len) {
  const uint32_t args[3] = {(uint32_t)(uintptr_t)name, 1u, len};
  return semihosting_call(0x01, args);
}

/* SYS_READ: returns the number of bytes NOT read (0 = all of them). */
static inline int32_t semihosting_read(int32_t handle, void *buf, uint32_t len) {
  const uint32_t args[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, len};
  return semihosting_call(0x06, args);
}

/* SYS_EXIT_EXTENDED: QEMU exits with `code`. */
static inline void semihosting_exit(int code) {
  const uint32_t args[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
  semihosting_call(0x20, args);
  for (;;) {
  }
}

#ifdef __cplusplus
}
#endif

#endif /* EDGECXR_SEMIHOSTING_H_ */
