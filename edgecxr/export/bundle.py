"""``--format bundle``: every format in firmware_bundle layout, with a manifest.

    <bundle>/manifest.json      sha256 + size of every file, versions, the exported model's metrics
    <bundle>/tflite/            --format tflite
    <bundle>/c-header/          --format c-header
    <bundle>/arduino/<library>/ --format arduino
    <bundle>/rpi/               --format rpi
    <bundle>.tar.gz             written by edgecxr.export.export (the table's ``archive`` flag)
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from edgecxr import __version__
from edgecxr.calibrate import shipped_threshold
from edgecxr.errors import RunError
from edgecxr.export.formats import FORMATS, Format
from edgecxr.export.source import ExportSource
from edgecxr.files import MANIFEST, MARKER, read_json, read_json_object, sha256_file, write_json
from edgecxr.runs import versions

EVAL_DIR = "eval"


def parts() -> list[Format]:
    """Every format of the table except the bundle itself, each into its own subfolder."""
    return [f for f in FORMATS.values() if f.handler != f"{__name__}:export_bundle"]


def model_metrics(source: ExportSource) -> dict:
    """The exported model's figures from every `edgecxr evaluate` of the run; else training's
    validation metrics of the float model, labelled as such."""
    key = source.model_key
    found = {}
    again = f"re-run `edgecxr evaluate {source.run.name} --force`"
    for report in sorted(source.run.file(EVAL_DIR).glob("*/eval.json")):
        doc = read_json_object(source.run.verified(str(report.relative_to(source.run.path)), again), again)
        if key in doc.get("models", {}):
            found[str(report.relative_to(source.run.path))] = {
                "model": key, "dataset": doc.get("dataset"), "threshold": doc.get("threshold"),
                "metrics": doc["models"][key].get("metrics"),
                "agreement_with_float": doc.get("comparisons", {}).get(key, {}).get("agreement")}
    if found:
        return found
    val = source.run.file("val_metrics.json")
    if val.exists():
        metrics = read_json(source.run.verified(val.name, "re-run `edgecxr train`"), "re-run `edgecxr train`")
        return {"val_metrics.json": {"model": "keras_float", "metrics": metrics,
                                     "note": f"float model on the validation split; run `edgecxr evaluate "
                                             f"{source.run.name}` for the {key} figures"}}
    return {}


def file_table(folder: Path) -> dict:
    """Every file of the bundle but its manifest and edgecxr's marker (rewritten when the
    folder is sealed: edgecxr.files.staged_folder)."""
    return {str(p.relative_to(folder)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in (MANIFEST, MARKER)}


def export_bundle(source: ExportSource, out: Path, test_image: Path | None = None) -> dict:
    written = {}
    for f in parts():
        (out / f.folder).mkdir()
        extra = {"test_image": test_image} if "test_image" in f.options else {}
        written[f.name] = f.load_handler()(source, out / f.folder, **extra)
    manifest = {
        "edgecxr": __version__, "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "run": source.run.name, "name": source.name,
        "model": {"kind": source.model_key, "source": source.model_path.name,
                  "sha256": sha256_file(source.model_path), "bytes": source.model_path.stat().st_size,
                  "input_quant": source.input_quant, "output_quant": source.output_quant},
        "labels": source.spec.labels,
        "threshold": shipped_threshold(source.spec),  # validation's, or a site calibration's (edgecxr.calibrate)
        "tflm": {"ops": written["c-header"]["tflm_ops"], "arena_measured": written["c-header"]["arena_measured"],
                 "arena_size": written["c-header"]["arena_size"]},
        "selftest": written["rpi"]["expected"],
        "metrics": model_metrics(source),
        "versions": versions(),
        "disclaimer": "Research and engineering use only; not a medical device.",
        "files": file_table(out),
    }
    write_json(out / MANIFEST, manifest)
    return {"parts": list(written), "name": source.name, "files": len(manifest["files"]),
            "tflm_ops": manifest["tflm"]["ops"], "arena_size": manifest["tflm"]["arena_size"],
            "selftest": manifest["selftest"], "metrics_from": list(manifest["metrics"])}


def verify_bundle(folder: Path) -> list[str]:
    """Files of a bundle whose sha256 or size no longer matches its manifest (empty: intact)."""
    again = f"re-export it: edgecxr export RUN --format bundle --out {folder} --force"
    manifest = read_json_object(Path(folder) / MANIFEST, again, keys=("files", "model"))
    if not isinstance(manifest["files"], dict) or not isinstance(manifest["model"], dict):
        raise RunError(f"{Path(folder) / MANIFEST} is damaged: 'files' or 'model' is not an object", again)
    bad = []
    for rel, info in manifest["files"].items():
        p = Path(folder) / rel
        if not p.is_file() or not isinstance(info, dict) or sha256_file(p) != info.get("sha256"):
            bad.append(rel)
    return bad
