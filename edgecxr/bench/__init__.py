"""`edgecxr bench`: latency on the host and a Raspberry Pi, and what a microcontroller needs.

host.py and rpi.py run the same self-contained runner (firmware_bundle/rpi/classify.py) so the
numbers from both places are measured one way; mcu.py turns a model's facts (arena, operators,
MACs: edgecxr.tflite_facts) into a verdict for a board of edgecxr/boards.toml;
qemu.py runs the model's firmware on an emulated Cortex-M board and measures it there.
"""
