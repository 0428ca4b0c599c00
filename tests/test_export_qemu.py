"""Smoke test of the C header on an emulated Cortex-M4 (QEMU mps2-an386): a bare-metal
program built with arm-none-eabi-gcc reads the model array's length, alignment and an FNV-1a
checksum and prints them over semihosting; they must equal the .tflite's."""

import re
import shutil
import subprocess

import pytest

FIRMWARE = r"""
#include <stdint.h>
#include "model_settings.h"

extern uint32_t _estack;

static int semihost(int op, const void* arg) {
  register int r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static void put(const char* s) { semihost(0x04, s); } /* SYS_WRITE0 */

static void put_uint(uint32_t v, int base) {
  char buf[12];
  int i = 11;
  buf[i] = 0;
  do {
    buf[--i] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  put(&buf[i]);
}

void reset_handler(void) {
  uint32_t hash = 2166136261u; /* FNV-1a, 32 bit */
  for (uint32_t i = 0; i < EDGECXR_MODEL_DATA_LEN; ++i) hash = (hash ^ EDGECXR_MODEL_DATA[i]) * 16777619u;
  put("len=");
  put_uint(EDGECXR_MODEL_DATA_LEN, 10);
  put(" fnv1a=");
  put_uint(hash, 16);
  put(" misalign=");
  put_uint((uint32_t)(uintptr_t)EDGECXR_MODEL_DATA & 15u, 10);
  put(" arena=");
  put_uint(EDGECXR_ARENA_SIZE, 10);
  put("\n");
  semihost(0x18, (const void*)0x20026); /* SYS_EXIT, ADP_Stopped_ApplicationExit */
  for (;;) {}
}

__attribute__((section(".vectors"), used)) const void* const vectors[2] = {&_estack, (const void*)reset_handler};
"""

LINKER = """
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 4M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 4M }
SECTIONS {
  .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM
  .bss : { *(.bss*) *(COMMON) } > RAM
  _estack = ORIGIN(RAM) + LENGTH(RAM);
}
"""


def fnv1a(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def test_model_array_on_an_emulated_cortex_m4(exported_bundle, tmp_path):
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed (apt install gcc-arm-none-eabi qemu-system-arm)")
    headers = exported_bundle / "c-header"
    (tmp_path / "main.c").write_text(FIRMWARE)
    (tmp_path / "link.ld").write_text(LINKER)
    elf = tmp_path / "smoke.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O2", "-std=c99", "-Wall", "-Werror",
                    "-nostdlib", "-ffreestanding", "-fno-tree-loop-distribute-patterns", "-I", str(headers),
                    "-T", str(tmp_path / "link.ld"), str(tmp_path / "main.c"), str(headers / "tiny_run_model.c"),
                    "-o", str(elf)], check=True, capture_output=True, text=True)
    proc = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4", "-semihosting-config",
                           "enable=on,target=native", "-nographic", "-monitor", "none", "-serial", "none",
                           "-kernel", str(elf)], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    model = (exported_bundle / "tflite" / "model.tflite").read_bytes()
    # QEMU sends the semihosting console to stderr or stdout depending on its chardev set-up
    fields = dict(re.findall(r"(\w+)=(\w+)", proc.stdout + proc.stderr))
    assert int(fields["len"]) == len(model)
    assert int(fields["fnv1a"], 16) == fnv1a(model)
    assert fields["misalign"] == "0"
    settings = (headers / "model_settings.h").read_text()
    assert f"#define EDGECXR_ARENA_SIZE {fields['arena']}\n" in settings
