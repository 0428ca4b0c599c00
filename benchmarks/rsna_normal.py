"""Which of nih-ozturk's Pneumonia images RSNA's radiologists read as Normal (issue 21).

    python benchmarks/rsna_normal.py --torchxrayvision CLONE --nih DIR [--out FILE]

NIH ChestX-ray14's labels are mined from report text; the RSNA pneumonia challenge (Shih et al.,
Radiology: AI 2019) had radiologists re-read some 30,000 of its images. torchxrayvision
(github:mlmed/torchxrayvision, Apache-2.0) matched each of the 26,684 Kaggle stage-2 training
images to its NIH file by sex, age, view and then the smallest pixel error:
scripts/CrossReferenceWithNIH/rsnamatches.pkl, a dict Kaggle patientId -> {'info': [RSNA class],
'mse': float, 'cxr_match': NIH file name}. Here each image of DIR/Pneumonia is looked up by
name among the clean matches (mse below MATCH_MSE: the matches sit below 3, the misses at 89
and above) and the list of those RSNA labelled "Normal" is printed (or written to --out) in the
format protocol.py --exclude reads. The stage-2 test images (3,000) have no public labels in
that file, so some of DIR's images stay unlabelled; the counts say how many.

CLONE is a git clone of torchxrayvision (a work tree or a bare git dir); the pickle is read at
COMMIT with an unpickler that allows numpy's dtype and scalar only.
"""

from __future__ import annotations

import argparse
import io
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path

COMMIT = "138b6ba1f9ef85fec929f9028208a68e6cda5aff"  # torchxrayvision: the commit that added the file
PICKLE = "scripts/CrossReferenceWithNIH/rsnamatches.pkl"
MATCH_MSE = 10.0
ALLOWED = {("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}


class NumpyOnly(pickle.Unpickler):
    """The matches hold numpy scalars; any other global in the pickle is refused."""

    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in {PICKLE}")
        return super().find_class(module, name)


def rsna_classes(clone: Path) -> dict[str, str]:
    """NIH file name -> RSNA class, for the clean matches."""
    blob = subprocess.run(["git", "-C", str(clone), "show", f"{COMMIT}:{PICKLE}"], capture_output=True, check=True).stdout
    matches = NumpyOnly(io.BytesIO(blob)).load()
    return {m["cxr_match"]: m["info"][0] for m in matches.values() if float(m["mse"]) < MATCH_MSE}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--torchxrayvision", type=Path, required=True, help="a git clone of mlmed/torchxrayvision")
    p.add_argument("--nih", type=Path, required=True, help="the extracted nih-ozturk folder (No_findings/, Pneumonia/)")
    p.add_argument("--out", type=Path, help="write the list here (default: print it)")
    args = p.parse_args()
    try:
        classes = rsna_classes(args.torchxrayvision)
    except subprocess.CalledProcessError as e:
        sys.exit(f"error: cannot read {PICKLE} at {COMMIT} in {args.torchxrayvision}: {e.stderr.decode().strip()}\n"
                 "hint: git clone https://github.com/mlmed/torchxrayvision and pass the clone")
    names = sorted(p.name for p in (args.nih / "Pneumonia").glob("*.png"))
    if not names:
        sys.exit(f"error: no Pneumonia/*.png under {args.nih}\nhint: extract it as `edgecxr data info nih-ozturk` says")
    found = Counter(classes.get(n, "not in the public RSNA labels") for n in names)
    normal = [n for n in names if classes.get(n) == "Normal"]
    header = [f"# nih-ozturk Pneumonia images that RSNA's radiologists labelled Normal: {len(normal)} of {len(names)}",
              f"# (benchmarks/rsna_normal.py; torchxrayvision {COMMIT[:12]} {PICKLE}, Apache-2.0)",
              "# RSNA classes of the folder: " + ", ".join(f"{k} {v}" for k, v in found.most_common())]
    text = "\n".join(header + normal) + "\n"
    if args.out:
        args.out.write_text(text)
        print("\n".join(header) + f"\nwritten: {args.out}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
