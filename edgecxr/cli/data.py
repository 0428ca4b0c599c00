"""`edgecxr data ...`: the dataset registry, fetch, import, inspect, split and synth."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import ForceOpt, JsonOpt, SeedOpt, emit, flag, table
from edgecxr.cli.root import app as root_app
from edgecxr.data.dataset import CSV_DEFAULTS, load_dataset

data_app = typer.Typer(help="Find, fetch, import, inspect, split and synthesize chest X-ray datasets.",
                  no_args_is_help=True)
root_app.add_typer(data_app, name="data")

PathArg = Annotated[Path, typer.Argument(help="Dataset folder: CLASS/* or {train,val,test}/CLASS/* "
                                              "(with --csv: the folder of the CSV's images).")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="Take labels from this CSV instead of "
                                                               "folder names (NIH ChestX-ray14 format by default).")]
ImageColOpt = Annotated[str, typer.Option("--image-col", help="CSV column with the image file name.")]
LabelColOpt = Annotated[str, typer.Option("--label-col", help="CSV column with the label(s).")]
PatientColOpt = Annotated[str, typer.Option("--patient-col", help="CSV column with the patient id; "
                                                                  "'' takes it from the file name.")]
SepOpt = Annotated[str, typer.Option("--sep", help="Separator between several labels in one CSV cell.")]
StrictOpt = Annotated[bool, flag("--strict", help="Make unreadable or missing images an error "
                                                          "instead of skipping and listing them.")]


class SynthClasses(str, Enum):
    binary = "binary"
    multiclass = "multiclass"


def _dataset(path: Path, csv: Path | None, image_col: str, label_col: str, patient_col: str, sep: str,
             strict: bool):
    return load_dataset(path, csv, strict=strict, image_col=image_col, label_col=label_col,
                        patient_col=patient_col or None, sep=sep)


# -- registry ------------------------------------------------------------------------------------

@data_app.command("list")
def list_datasets(as_json: JsonOpt = False):
    """The public chest X-ray datasets edgecxr knows (datasets.toml)."""
    from edgecxr.data.registry import load_registry

    registry = load_registry()
    rows = [{"name": d.name, "classes": len(d.classes) or None, "images": d.images, "labels": d.label_format,
             "download": "direct" if d.url else "manual", "license": _short(d.license.split(" (")[0])}
            for d in registry.values()]
    emit({"datasets": [d.to_dict() for d in registry.values()]}, as_json,
         lambda r: typer.echo(table(rows) + "\n\nedgecxr data info NAME shows one in full."))


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


@data_app.command()
def info(name: Annotated[str, typer.Argument(help="Dataset name from `edgecxr data list`.")],
         as_json: JsonOpt = False):
    """Everything the registry knows about one dataset: source, layout, labels, license, checksum."""
    from edgecxr.data.registry import get_dataset

    d = get_dataset(name)

    def human(r: dict) -> None:
        for key, value in r.items():
            if key == "manual":
                typer.echo("manual:\n" + "\n".join(f"  {i}. {step}" for i, step in enumerate(value, 1)))
            elif key == "sha256" and value is None:
                typer.echo(f"sha256: {r['checksum_note']}")
            elif key != "checksum_note" and value not in (None, [], ""):
                typer.echo(f"{key}: {', '.join(value) if isinstance(value, list) else value}")

    emit(d.to_dict(), as_json, human)


@data_app.command()
def fetch(name: Annotated[str, typer.Argument(help="Dataset name from `edgecxr data list`.")],
          out: Annotated[Path, typer.Option("--out", help="Folder to download into.")] = Path("data"),
          force: ForceOpt = False, as_json: JsonOpt = False):
    """Download a dataset that has a direct URL (resumes, verifies sha256); else print how to get it."""
    from edgecxr.data.registry import fetch as fetch_dataset
    from edgecxr.data.registry import get_dataset

    result = fetch_dataset(get_dataset(name), out, force=force)

    def human(r: dict) -> None:
        if r["status"] == "manual":
            typer.echo(f"{name} has no direct download; get it by hand:")
            typer.echo("\n".join(f"  {i}. {step}" for i, step in enumerate(r["manual"], 1)))
            return
        check = "verified" if r["verified"] else "not verified: the registry has no checksum for it"
        typer.echo(f"{r['status']}: {r['path']} ({r['bytes']:,} bytes)\nsha256 {r['sha256']} ({check})")
        typer.echo(f"next: edgecxr data import {r['path']} --out {Path(r['path']).parent / name}")

    emit(result, as_json, human)


# -- local data ----------------------------------------------------------------------------------

@data_app.command("import")
def import_(source: Annotated[Path, typer.Argument(help="The downloaded .zip, or an unpacked folder.")],
            out: Annotated[Path | None, typer.Option("--out", help="Dataset folder to create "
                                                                      "[default: data/<source name>].")] = None,
            force: ForceOpt = False, as_json: JsonOpt = False):
    """Unpack or copy a download into a clean dataset folder (Kaggle's zip layout included)."""
    from edgecxr.data.importer import import_dataset

    out = out or Path("data") / source.name.removesuffix(".zip")
    result = import_dataset(source, out, force=force)

    def human(r: dict) -> None:
        typer.echo(f"imported {r['images']} images from {r['source']} ({r['root_in_source']}) into {r['out']}")
        if r["classes"]:
            typer.echo(f"classes: {', '.join(r['classes'])}; splits: {', '.join(r['splits'])}")
        if r["label_files"]:
            typer.echo(f"label files: {', '.join(r['label_files'])} (use --csv with inspect / split)")
        skipped = r["skipped"]
        typer.echo(f"skipped: {skipped['junk']} junk, {skipped['outside_dataset_root']} outside the dataset "
                   f"root (e.g. a duplicate copy), {skipped['other_files']} non-image, "
                   f"{len(skipped['symlinks'])} symlink(s), {len(skipped['not_regular_files'])} FIFO/device/socket(s)")

    emit(result, as_json, human)


@data_app.command()
def inspect(path: PathArg, csv: CsvOpt = None, image_col: ImageColOpt = CSV_DEFAULTS["image_col"],
            label_col: LabelColOpt = CSV_DEFAULTS["label_col"],
            patient_col: PatientColOpt = CSV_DEFAULTS["patient_col"], sep: SepOpt = CSV_DEFAULTS["sep"],
            strict: StrictOpt = False, as_json: JsonOpt = False):
    """Counts, sizes, modes, unreadable files, duplicates, patients and class balance of a dataset."""
    from edgecxr.data.inspect import inspect_dataset

    dataset = _dataset(path, csv, image_col, label_col, patient_col, sep, strict)
    emit(inspect_dataset(dataset, strict=strict), as_json, _print_inspection)


def _print_inspection(r: dict) -> None:
    typer.echo(f"{r['root']}: {r['images']} images, {len(r['classes'])} classes"
               + (" (multi-label)" if r["multilabel"] else ""))
    typer.echo(table([{"split": split, **row, "total": sum(row.values())} for split, row in r["counts"].items()]))
    p = r["patients"]
    typer.echo(f"\npatients: {p['total']} (per class: "
               + ", ".join(f"{c} {n}" for c, n in p["per_class"].items())
               + f"); in more than one split: {p['shared_across_splits']}")
    s = r["sizes"]
    typer.echo(f"sizes: {s['distinct']} distinct, from {s['smallest']} to {s['largest']}; most common: "
               + ", ".join(f"{k} ({n})" for k, n in list(s["most_common"].items())[:3]))
    typer.echo("modes: " + ", ".join(f"{k} {n}" for k, n in r["modes"].items())
               + "; formats: " + ", ".join(f"{k} {n}" for k, n in r["formats"].items()))
    typer.echo(f"exact duplicates: {r['duplicates']['groups']} groups, across splits: "
               f"{r['duplicates_across_splits']['groups']}, with different labels: "
               f"{r['duplicates_with_different_labels']['groups']}")
    typer.echo(f"unreadable: {len(r['unreadable'])}")
    for u in r["unreadable"]:
        typer.echo(f"  {u['error']}")
    for line in r["notes"] + r["warnings"]:
        typer.echo(f"note: {line}")


@data_app.command()
def split(path: PathArg,
          val_fraction: Annotated[float, typer.Option("--val-fraction", help="Share of the images (of each "
                                                      "class) that goes to validation.")] = 0.2,
          seed: SeedOpt = 0,
          out: Annotated[Path, typer.Option("--out", help="The split manifest to write (read by training).")]
          = Path("split.json"),
          csv: CsvOpt = None, image_col: ImageColOpt = CSV_DEFAULTS["image_col"],
          label_col: LabelColOpt = CSV_DEFAULTS["label_col"],
          patient_col: PatientColOpt = CSV_DEFAULTS["patient_col"], sep: SepOpt = CSV_DEFAULTS["sep"],
          force: ForceOpt = False, as_json: JsonOpt = False):
    """A seeded train/val split, stratified by class and grouped by patient (a folder's test split stays test)."""
    from edgecxr.data.split import (
        patients_in_several_splits,
        split_by_patient,
        write_split,
    )

    dataset = _dataset(path, csv, image_col, label_col, patient_col, sep, strict=False)
    assignment = split_by_patient(dataset, val_fraction, seed)
    doc = write_split(dataset, assignment, out, seed=seed, val_fraction=val_fraction, force=force)
    patients = {split: len({s.patient for s in dataset.samples if assignment[s.path] == split})
                for split in doc["counts"]}
    shared = patients_in_several_splits(dataset, assignment)
    result = {"out": str(out), "root": doc["root"], "classes": dataset.classes, "seed": seed,
              "val_fraction": val_fraction, "counts": doc["counts"], "patients": patients,
              "patients_in_several_splits": len(shared), "shared_examples": shared[:10]}

    def human(r: dict) -> None:
        typer.echo(table([{"split": s, **row, "patients": r["patients"][s]} for s, row in r["counts"].items()]))
        typer.echo(f"\nwrote {r['out']} (seed {seed}); patients in two splits: {r['patients_in_several_splits']}"
                   + (" (between train/val and the folder's own test split)" if shared else ""))

    emit(result, as_json, human)


@data_app.command()
def synth(out: Annotated[Path, typer.Argument(help="Folder to create (CLASS/*.png).")],
          per_class: Annotated[int, typer.Option("--per-class", help="Images per class.")] = 40,
          size: Annotated[int, typer.Option("--size", help="Width and height in pixels.")] = 128,
          seed: SeedOpt = 0,
          classes: Annotated[SynthClasses, typer.Option("--classes", help="binary: NORMAL/PNEUMONIA; "
                                                        "multiclass: Normal/Viral Pneumonia/Covid.")]
          = SynthClasses.binary,
          force: ForceOpt = False, as_json: JsonOpt = False):
    """Deterministic synthetic chest-like grayscale images (for demos and tests; not real X-rays)."""
    from edgecxr.data.synth import MULTICLASS, SYNTH_CLASSES, make_dataset

    table_of = {SynthClasses.binary: SYNTH_CLASSES, SynthClasses.multiclass: MULTICLASS}[classes]
    make_dataset(out, per_class=per_class, size=size, seed=seed, classes=table_of, force=force)
    result = {"out": str(out), "classes": list(table_of), "per_class": per_class, "size": size, "seed": seed,
              "images": per_class * len(table_of)}
    emit(result, as_json, lambda r: typer.echo(f"wrote {r['images']} synthetic images "
                                               f"({', '.join(r['classes'])}) to {r['out']}"))
