"""edgecxr: a folder of chest X-rays -> a small int8 classifier on a microcontroller or a
Raspberry Pi, with evaluation that shows exactly what int8 changed.

Not a medical device: research and engineering use only.
"""

__version__ = "0.1.0"
