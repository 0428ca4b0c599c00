"""Bare-metal TensorFlow Lite Micro firmware: the project an export writes (project.py), the
operator names taken from TFLM (resolver.py), the build with cached objects (build.py) and the
run on QEMU's emulated Cortex-M boards (emulator.py)."""
