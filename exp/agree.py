"""Scratch: float/int8 decision agreement and int8 metrics on the external proxy."""
import sys
from pathlib import Path
import numpy as np
from edgecxr import train_metrics as tm
from edgecxr.artifacts import INT8
from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import scan_folder
from edgecxr.preprocess import PreprocessSpec, to_float
from edgecxr.runtimes import TFLiteModel
from edgecxr.tfenv import keras
EXT = Path("/work/shared/data/covid3/train")
for run in map(Path, sys.argv[1:]):
    spec = PreprocessSpec.load(run / "spec.json")
    e = scan_folder(EXT)
    keep = [s for s in e.samples if e.classes[s.labels[0]] in ("Normal", "Viral Pneumonia")]
    ye = np.array([e.classes[s.labels[0]] == "Viral Pneumonia" for s in keep])
    xe = load_pixels([s.path for s in keep], spec, progress=False).x
    pf = keras().models.load_model(run / "model.keras", compile=False).predict(to_float(xe), verbose=0)[:, 1]
    t = spec.threshold
    print(f"== {run.name} thr {t:.3f} float: ", {k: round(v["value"], 3) for k, v in tm.binary_metrics(ye, pf, t).items() if isinstance(v, dict) and "value" in v})
    for a in INT8:
        if (run / a.file).exists():
            p = TFLiteModel(run / a.file).predict(xe)[:, 1]
            agree = ((p >= t) == (pf >= t)).mean()
            m = tm.binary_metrics(ye, p, t)
            print(f"  {a.key}: agreement {agree:.4f} ({int(((p >= t) != (pf >= t)).sum())} flips) acc {m['accuracy']['value']:.3f} auc {m['roc_auc']['value']:.3f}")
