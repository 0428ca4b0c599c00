#!/usr/bin/env python3
"""Self-test of an exported edgecxr runner folder, on the device itself.

1. every file still has the sha256 written in SHA256SUMS when it was exported;
2. classify.py on the bundled images gives, byte for byte, the int8 outputs that edgecxr
   computed on the build machine with the same kernel family (selftest/expected.json).

The images are the run's own, chosen near the decision threshold (not saturated at the int8
limits), so a runtime or kernel family that rounds differently changes their bytes and can
flip their label: the test can fail. ``--kernels`` picks the family (default: reference, whose
bytes are the same on every CPU); "builtin" bytes differ between x86 and ARM, so on a Pi they
are expected to fail against an x86 export.

Prints one JSON object; exit status 0 only when both hold. Not a medical device.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUMS = "SHA256SUMS"


def bad_checksums() -> list[str]:
    bad = []
    for line in (HERE / SUMS).read_text().splitlines():
        digest, name = line.split(None, 1)
        path = HERE / name.lstrip("*")
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name.lstrip("*"))
    return bad


def classify(images: list[Path], runtime: str | None, kernels: str) -> dict:
    """{image name: classify.py's line}, or {"error": why} (a crash is named by its signal)."""
    cmd = [sys.executable, str(HERE / "classify.py"), "--model", str(HERE / "model.tflite"),
           "--spec", str(HERE / "spec.json"), "--kernels", kernels, "--no-tta", *map(str, images)]
    done = subprocess.run(cmd + (["--runtime", runtime] if runtime else []), check=False, capture_output=True,
                          text=True)
    if done.returncode < 0:
        return {"error": f"classify.py was killed by {signal.Signals(-done.returncode).name} "
                         f"(the TFLite runtime crashed)"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["classify.py failed"])[0]}
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {Path(line["file"]).name: line for line in lines}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runtime", help="interpreter for classify.py (default: its first installed)")
    p.add_argument("--kernels", default=None, help="kernel family (default: the one expected.json names)")
    args = p.parse_args(argv)
    expected = json.loads((HERE / "selftest" / "expected.json").read_text())
    kernels = args.kernels or expected["default_kernels"]
    report = {"ok": False, "checksums_bad": bad_checksums(), "kernels": kernels, "machine": platform.machine(),
              "expected_from": expected["machine"], "images": len(expected["images"])}
    if kernels not in expected["kernels"]:
        report["error"] = f"no expected outputs for kernels {kernels!r} (known: {', '.join(expected['kernels'])})"
        print(json.dumps(report))
        return 1
    got = classify([HERE / "selftest" / row["image"] for row in expected["images"]], args.runtime, kernels)
    if "error" in got:
        report["error"] = got["error"]
        print(json.dumps(report))
        return 1
    results = []
    for row in expected["images"]:
        line = got[row["image"]]
        want = row["raw"][kernels]
        steps = max(abs(a - b) for a, b in zip(line["raw"], want))
        results.append({"image": row["image"], "raw": line["raw"], "expected_raw": want, "label": line["label"],
                        "expected_label": row["labels"][kernels], "max_step_difference": steps,
                        "latency_ms": line["latency_ms"]})
    differ = [r for r in results if r["max_step_difference"]]
    report.update(results=results, runtime=next(iter(got.values()))["runtime"],
                  bit_exact=not differ, images_differ=len(differ),
                  labels_differ=sum(r["label"] != r["expected_label"] for r in results),
                  max_step_difference=max((r["max_step_difference"] for r in results), default=0))
    if differ and kernels in expected.get("arch_dependent", []) and report["machine"] != expected["machine"]:
        report["note"] = (f"{kernels} kernels give different bytes on {report['machine']} than on "
                          f"{expected['machine']}, where the expected bytes were computed")
    report["ok"] = not report["checksums_bad"] and not differ
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
