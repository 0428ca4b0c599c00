"""The device's rules, written once: the host imports this package and the Raspberry Pi runner
(firmware_bundle/rpi/classify.py) carries it whole, as ``edgecxr_device`` next to it, so both read an image, decide a label and
report a failure the same way.

    spec.py         the model spec (spec.json): input, normalization, labels, task, threshold
    preprocess.py   image suffixes, image file -> model input (the C header mirrors it)
    decision.py     scores -> label, and P(positive) (the C app mirrors it)
    exits.py        the runner's exit statuses

Depends only on the standard library, numpy and Pillow -- never on the rest of edgecxr, and
its modules import each other only relatively (so they work under either package name).
"""
