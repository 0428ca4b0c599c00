#!/usr/bin/env python3
"""Self-test of an exported edgecxr runner folder, on the device itself.

1. every file still has the sha256 written in SHA256SUMS when it was exported;
2. classify.py on the bundled image gives the label and int8 outputs that edgecxr computed
   on the build machine (selftest/expected.json).

Prints one JSON object; exit status 0 only when both hold. The int8 outputs are recovered
from the printed scores (score / scale + zero point; the scores carry 6 decimals, far finer
than one int8 step). Different TFLite runtimes may differ by one int8 step on some models:
``bit_exact`` says whether they matched exactly, ``ok`` allows that one step when the label
agrees. Not a medical device.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUMS = "SHA256SUMS"
MAX_STEP_DIFFERENCE = 1


def bad_checksums() -> list[str]:
    bad = []
    for line in (HERE / SUMS).read_text().splitlines():
        digest, name = line.split(None, 1)
        path = HERE / name.lstrip("*")
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name.lstrip("*"))
    return bad


def classify(image: Path, runtime: str | None) -> dict:
    cmd = [sys.executable, str(HERE / "classify.py"), "--model", str(HERE / "model.tflite"),
           "--spec", str(HERE / "spec.json"), str(image)] + (["--runtime", runtime] if runtime else [])
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["classify.py failed"])[0]}
    return json.loads(done.stdout.splitlines()[0])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runtime", help="interpreter for classify.py (default: its first installed)")
    args = p.parse_args(argv)
    expected = json.loads((HERE / "selftest" / "expected.json").read_text())
    quant = json.loads((HERE / "spec.json").read_text())["quant"]["model.tflite"]["output"]
    report = {"ok": False, "checksums_bad": bad_checksums(), "image": expected["image"],
              "expected_label": expected["label"], "expected_raw": expected["raw"]}
    got = classify(HERE / "selftest" / expected["image"], args.runtime)
    if "error" in got:
        report["error"] = got["error"]
    else:
        raw = [round(s / quant["scale"]) + quant["zero_point"] for s in got["scores"]]
        diff = max(abs(a - b) for a, b in zip(raw, expected["raw"]))
        report.update(label=got["label"], raw=raw, latency_ms=got["latency_ms"], bit_exact=diff == 0,
                      max_step_difference=diff)
        report["ok"] = (not report["checksums_bad"] and got["label"] == expected["label"]
                        and diff <= MAX_STEP_DIFFERENCE)
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
