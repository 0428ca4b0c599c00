"""Scratch: a run's Keras float on val and on the external proxy under threshold rules."""
import sys
from pathlib import Path

import numpy as np

from edgecxr import train_metrics as tm
from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import scan_folder
from edgecxr.data.split import read_split
from edgecxr.preprocess import PreprocessSpec, to_float
from edgecxr.tfenv import keras

EXT = Path("/work/shared/data/covid3/train")


def probs(model, x, tta=False):
    p = model.predict(to_float(x), batch_size=128, verbose=0)
    return p[:, 1] if p.shape[1] > 1 else p[:, 0]


for run in sys.argv[1:]:
    run = Path(run)
    spec = PreprocessSpec.load(run / "spec.json")
    ds, a = read_split(run / "split.json")
    val = [s for s in ds.samples if a[s.path] == "val"]
    yv = np.array([s.labels[0] == 1 for s in val])
    xv = load_pixels([s.path for s in val], spec, progress=False).x
    e = scan_folder(EXT)
    keep = [s for s in e.samples if e.classes[s.labels[0]] in ("Normal", "Viral Pneumonia")]
    ye = np.array([e.classes[s.labels[0]] == "Viral Pneumonia" for s in keep])
    xe = load_pixels([s.path for s in keep], spec, progress=False).x
    m = keras().models.load_model(run / "model.keras", compile=False)
    pv, pe = probs(m, xv), probs(m, xe)
    print(f"== {run.name}  val AUC {tm.roc_auc(yv, pv):.4f}  ext AUC {tm.roc_auc(ye, pe):.4f}  spec.thr {spec.threshold}")
    for rule, t in (("spec", spec.threshold), ("sens95", tm.choose_threshold(yv, pv, "sensitivity", 0.95)),
                    ("sens97", tm.choose_threshold(yv, pv, "sensitivity", 0.97)),
                    ("youden", tm.choose_threshold(yv, pv, "youden")), ("0.5", 0.5)):
        mv, me = tm.binary_metrics(yv, pv, t), tm.binary_metrics(ye, pe, t)
        f = lambda m: f"acc {m['accuracy']['value']:.3f} sens {m['sensitivity']['value']:.3f} spec {m['specificity']['value']:.3f}"
        print(f"  {rule:7s} thr {t:.4f} | val {f(mv)} | ext {f(me)}")
    print("  ext normal scores quantiles", np.round(np.quantile(pe[~ye], [.1, .25, .5, .75, .9]), 3))
    print("  ext pneu   scores quantiles", np.round(np.quantile(pe[ye], [.1, .25, .5, .75, .9]), 3))
