"""`edgecxr bench`: latency on the host and a Raspberry Pi, and what a microcontroller needs.

host.py and rpi.py run the same self-contained runner (firmware_bundle/rpi/classify.py) so the
numbers from both places are measured one way; micro.py reads TFLM facts of a model (arena,
operators, MACs) and mcu.py turns them into a verdict for a board of edgecxr/boards.toml;
qemu.py runs the model's firmware on an emulated Cortex-M board and measures it there.
"""
