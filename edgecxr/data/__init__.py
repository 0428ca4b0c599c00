"""The dataset layer: find images and labels, split by patient, decode once and cache.

    dataset.py   folder / CSV layouts -> Dataset(classes, samples with labels and patient ids)
    split.py     seeded, class-stratified, patient-grouped train/val split -> split.json
    cache.py     decode + preprocess (edgecxr.device.preprocess) once, then load from a .npy cache
    synth.py     deterministic synthetic chest-like images for the demo and the tests
    registry.py  datasets.toml: known public chest X-ray datasets, fetch and verify
    importer.py  a folder or .zip (Kaggle's layout included) -> a dataset folder
    inspect.py   counts, sizes, unreadable files, duplicates, patient leaks
"""
