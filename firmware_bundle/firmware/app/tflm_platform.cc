// What TensorFlow Lite Micro needs from a bare-metal platform (ENGINE=tflm only): its log hook,
// which prints the message without its arguments (no printf in this firmware), and the C++
// runtime pieces a build without exceptions or a heap still references.
#include <stdarg.h>
#include <string.h>

#include "edgecxr_board.h"
#include "tensorflow/lite/micro/debug_log.h"

extern "C" {
void DebugLog(const char* format, va_list) { edgecxr_board_print(format); }
int DebugVsnprintf(char* buffer, size_t buf_size, const char* format, va_list) {
  strncpy(buffer, format, buf_size);
  if (buf_size) buffer[buf_size - 1] = 0;
  return static_cast<int>(strlen(buffer));
}
void __cxa_pure_virtual(void) { edgecxr_board_fail("pure virtual call"); }
}

void operator delete(void*) noexcept {}
void operator delete(void*, unsigned int) noexcept {}
