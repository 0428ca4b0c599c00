"""The device's rules, written once: the host imports this package and the Raspberry Pi runner
(firmware_bundle/rpi/classify.py) carries it whole, as ``edgecxr_device`` next to it, so both
read an image, run a model, decide a label and report a failure the same way.

    spec.py         the model spec (spec.json): input, normalization, labels, task, threshold
    preprocess.py   image suffixes, image file -> model input (the C header mirrors it)
    runtime.py      the interpreter chain and kernel families: a .tflite on one runtime
    decision.py     scores -> label, and P(positive) (the C app mirrors it)
    tta.py          test-time augmentation: centred zooms, probabilities averaged, and the one
                    rule for which views a host runs (not on a microcontroller)
    exits.py        the runner's exit statuses and its error type

Depends only on the standard library, numpy and Pillow (and, to run a model, one TFLite
runtime) -- never on the rest of edgecxr, and its modules import each other only relatively
(so they work under either package name).
"""
