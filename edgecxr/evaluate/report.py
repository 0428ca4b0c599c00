"""The evaluation report: eval.json, report.md, PNGs, one self-contained report.html, and
predictions.csv -- plus the plain-text summary the CLI prints.

PNGs use matplotlib's Agg backend (no display needed); the HTML embeds them as base64 so
the one file can be mailed or opened anywhere.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path

import numpy as np

from edgecxr.device.decision import positive_score
from edgecxr.evaluate.metrics import roc_curve
from edgecxr.files import json_default

PNGS = {"confusion.png": "Confusion matrices (counts and row-normalized %)", "roc.png": "ROC curves"}


# -- text --------------------------------------------------------------------------------
def _ci(m: dict | None, pct: bool = True) -> str:
    if not m or m.get("value") is None:
        return "-"
    f = (lambda v: f"{100 * v:.1f}") if pct else (lambda v: f"{v:.3f}")
    lo, hi = m["ci95"]
    return f"{f(m['value'])} [{f(lo)}, {f(hi)}]"


def metric_rows(report: dict) -> list[dict]:
    """One row per model: the key figures with 95 % CIs, and agreement with the reference."""
    rows = []
    for key, m in report["models"].items():
        mm, cmp = m["metrics"], report["comparisons"].get(key)
        row = {"model": m["title"], "runtime": m["runtime"] + (f" ({m['kernels']})" if m.get("kernels") else "")}
        if report["task"] == "multilabel":
            row.update({"mean ROC-AUC": f"{mm['roc_auc_macro']:.3f}" if mm["roc_auc_macro"] is not None else "-",
                        "exact match %": _ci(mm["exact_match"])})
        else:
            row["accuracy %"] = _ci(mm["accuracy"])
            if report["task"] == "binary":
                row.update({"sensitivity %": _ci(mm["sensitivity"]), "specificity %": _ci(mm["specificity"]),
                            "ROC-AUC": _ci(mm["roc_auc"], pct=False), "PR-AUC": _ci(mm["pr_auc"], pct=False)})
            else:
                row.update({"macro F1": f"{mm['averages']['macro']['f1']:.3f}",
                            "macro ROC-AUC": f"{mm['roc_auc_macro']:.3f}" if mm["roc_auc_macro"] else "-"})
        row["agreement %"] = _ci(cmp["agreement"]) if cmp else "(reference)"
        row["flips"] = len(cmp["flips"]) if cmp else "-"
        row["max |dp|"] = f"{cmp['max_abs_prob_diff']:.4f}" if cmp else "-"
        rows.append(row)
    return rows


def kernel_family_lines(report: dict) -> list[str]:
    """One line per int8 model and other kernel family: how many outputs and decisions change."""
    return [f"{m['title']} with {family} kernels instead of {m['kernels']}: " + (
            f"not run ({d['unavailable']})" if "unavailable" in d else
            f"{d['images_with_different_outputs']} images with different outputs"
            f" ({d.get('images_identical', '?')} identical), {d['decisions_differ']} decisions differ")
            for m in report["models"].values() for family, d in m.get("kernel_families", {}).items()]


def confusion_text(report: dict) -> str:
    """The confusion matrices side by side, counts and (row %) in each cell."""
    if report["task"] == "multilabel":
        return ""
    labels = report["labels"]
    blocks = []
    for m in report["models"].values():
        cm = m["metrics"]["confusion_matrix"]
        pct = m["metrics"]["confusion_matrix_row_percent"]
        cells = [[f"{cm[i][j]} ({pct[i][j]:.0f}%)" for j in range(len(labels))] for i in range(len(labels))]
        head = [m["title"]] + [f"pred {lb}" for lb in labels]
        body = [[f"true {labels[i]}"] + cells[i] for i in range(len(labels))]
        widths = [max(len(r[c]) for r in [head] + body) for c in range(len(head))]
        blocks.append(["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in [head] + body])
    width = max(len(line) for b in blocks for line in b)
    lines = []
    for row in range(len(blocks[0])):
        lines.append(" | ".join(b[row].ljust(width) for b in blocks).rstrip())
    return "\n".join(lines)


def _table_md(rows: list[dict]) -> str:
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def _per_class_rows(metrics: dict, task: str) -> list[dict]:
    if task == "multilabel":
        return [{"finding": r["class"], "ROC-AUC": _ci(r["roc_auc"], False), "sensitivity %": _ci(r["sensitivity"]),
                 "specificity %": _ci(r["specificity"]), "support": r["support"]} for r in metrics["per_label"]]
    rows = [{"class": r["class"], "precision %": _ci(r["precision"]), "recall %": _ci(r["recall"]),
             "F1": f"{r['f1']:.3f}" if r["f1"] is not None else "-", "specificity %": _ci(r["specificity"]),
             "support": r["support"]} for r in metrics["per_class"]]
    for kind, avg in metrics["averages"].items():
        rows.append({"class": f"{kind} avg", **{k: (f"{100 * avg[v]:.1f}" if avg[v] is not None else "-")
                                                 for k, v in (("precision %", "precision"), ("recall %", "recall"),
                                                              ("specificity %", "specificity"))},
                     "F1": f"{avg['f1']:.3f}" if avg["f1"] is not None else "-",
                     "support": sum(r["support"] for r in metrics["per_class"])})
    return rows


def markdown(report: dict) -> str:
    ds, th = report["dataset"], report["threshold"]
    parts = [f"# Evaluation: {ds['source']}", "",
             f"Run `{report['run']}`, {ds['n']} images, task {report['task']}, labels {', '.join(report['labels'])}.",
             f"Decision threshold: {th['value'] if th['value'] is not None else '-'} ({th['source']}).", ""]
    parts += [f"> **Note:** {n}" for n in ds["notes"]] + ([""] if ds["notes"] else [])
    parts += ["## Key figures (95 % intervals)", "", _table_md(metric_rows(report)), ""]
    if report["task"] != "multilabel":
        parts += ["## Confusion matrices (rows: true class; counts and row %)", "", "```",
                  confusion_text(report), "```", ""]
    for m in report["models"].values():
        parts += [f"## {m['title']} per class", "", _table_md(_per_class_rows(m["metrics"], report["task"])), ""]
    for key, cmp in report["comparisons"].items():
        title = report["models"][key]["title"]
        parts += [f"## {title} vs {report['models'][cmp['reference']]['title']}: {len(cmp['flips'])} flips", ""]
        parts += [f"- `{f['file']}`: {f['reference']} -> {f['other']}" for f in cmp["flips"][:50]]
        if len(cmp["flips"]) > 50:
            parts.append(f"- ... and {len(cmp['flips']) - 50} more (eval.json lists all)")
        parts.append("")
    families = kernel_family_lines(report)
    if families:
        parts += ["## int8 outputs by kernel family", "",
                  "The int8 figures above come from the kernels named in the runtime column ('reference' is what "
                  "TFLite Micro computes on a Cortex-M, bit for bit). The same models on the other kernel families:",
                  ""] + [f"- {line}" for line in families] + [""]
    parts.append(f"*{report['disclaimer']}*")
    return "\n".join(parts) + "\n"


# -- figures -------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(report: dict, path: Path) -> None:
    plt = _pyplot()
    labels, models = report["labels"], list(report["models"].values())
    fig, axes = plt.subplots(2, len(models), figsize=(3.4 * len(models), 6.4), squeeze=False)
    for col, m in enumerate(models):
        for row, key in enumerate(("confusion_matrix", "confusion_matrix_row_percent")):
            ax, data = axes[row][col], np.array(m["metrics"][key], float)
            ax.imshow(data, cmap="Blues", vmin=0, vmax=data.sum(axis=1).max() if row == 0 else 100)
            for i in range(len(labels)):
                for j in range(len(labels)):
                    text = f"{int(data[i, j])}" if row == 0 else f"{data[i, j]:.1f}%"
                    ax.text(j, i, text, ha="center", va="center",
                            color="white" if data[i, j] > (data.max() / 2) else "black", fontsize=9)
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
            ax.set_title(f"{m['title']} ({'counts' if row == 0 else 'row %'})", fontsize=9)
            if col == 0:
                ax.set_ylabel("true")
            if row == 1:
                ax.set_xlabel("predicted")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def roc_png(report: dict, y: np.ndarray, probs: dict[str, np.ndarray], path: Path) -> None:
    """Binary: one panel, a curve per model. Multi-class/-label: one panel per class."""
    plt = _pyplot()
    labels, task = report["labels"], report["task"]
    panels = [(labels[1], None)] if task == "binary" else [(name, k) for k, name in enumerate(labels)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4), squeeze=False)
    for ax, (name, k) in zip(axes[0], panels):
        for key, p in probs.items():
            if task == "binary":
                truth, score = y == 1, positive_score(p)
            else:
                truth, score = (y[:, k] == 1) if task == "multilabel" else (y == k), p[:, k]
            if truth.all() or not truth.any():
                continue
            c = roc_curve(truth, score)
            ax.plot(c["fpr"], c["tpr"], label=report["models"][key]["title"], lw=1.3)
        ax.plot([0, 1], [0, 1], ":", color="gray", lw=0.8)
        ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=f"ROC: {name}", xlim=(0, 1), ylim=(0, 1.01))
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def html_report(report: dict, pngs: dict[str, bytes]) -> str:
    """One self-contained page: the Markdown content as HTML tables, PNGs embedded."""
    esc = html.escape
    ds, th = report["dataset"], report["threshold"]

    def table(rows):
        if not rows:
            return ""
        cols = list(rows[0])
        head = "".join(f"<th>{esc(c)}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{esc(str(r[c]))}</td>" for c in cols) + "</tr>" for r in rows)
        return f"<table><tr>{head}</tr>{body}</table>"

    parts = [f"<h1>Evaluation: {esc(ds['source'])}</h1>",
             (f"<p>Run <code>{esc(report['run'])}</code>, {ds['n']} images, task {esc(report['task'])}, "
              f"labels {esc(', '.join(report['labels']))}.<br>Decision threshold: "
              f"{esc(str(th['value']))} ({esc(th['source'])}).</p>")]
    parts += [f"<p class=note><b>Note:</b> {esc(n)}</p>" for n in ds["notes"]]
    parts += ["<h2>Key figures (95 % intervals)</h2>", table(metric_rows(report))]
    for name, data in pngs.items():
        parts += [f"<h2>{esc(PNGS[name])}</h2>",
                  f'<img alt="{esc(PNGS[name])}" src="data:image/png;base64,{base64.b64encode(data).decode()}">']
    for m in report["models"].values():
        parts += [f"<h2>{esc(m['title'])} per class</h2>", table(_per_class_rows(m["metrics"], report["task"]))]
    for key, cmp in report["comparisons"].items():
        title = report["models"][key]["title"]
        parts += [(f"<h2>{esc(title)} vs {esc(report['models'][cmp['reference']]['title'])}: "
                   f"{len(cmp['flips'])} flips</h2>"),
                  table([{"file": f["file"], "reference": f["reference"], title: f["other"]} for f in cmp["flips"]])]
    parts.append(f"<p><i>{esc(report['disclaimer'])}</i></p>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}img{max-width:100%}"
             ".note{background:#fff4d6;padding:6px}")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>edgecxr evaluation</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def predictions_csv(report: dict, y: np.ndarray, probs: dict[str, np.ndarray], files: list[Path]) -> str:
    labels = report["labels"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file", "true"] + [f"{key}:{lb}" for key in probs for lb in labels[:probs[key].shape[1]]])
    for i, f in enumerate(files):
        truth = "+".join(labels[k] for k in np.flatnonzero(y[i])) if np.ndim(y[i]) else labels[int(y[i])]
        # repr: the exact value, so the saved scores and threshold give the reported decisions even
        # for a score equal to the threshold (a threshold chosen on these images is one of them)
        w.writerow([str(f), truth] + [repr(float(v)) for key in probs for v in probs[key][i]])
    return buf.getvalue()


def write_report(out_dir: Path, report: dict, y: np.ndarray, probs: dict[str, np.ndarray],
                 files: list[Path]) -> list[str]:
    """Write every report file into ``out_dir``; returns their names."""
    out_dir = Path(out_dir)
    (out_dir / "eval.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    (out_dir / "report.md").write_text(markdown(report))
    (out_dir / "predictions.csv").write_text(predictions_csv(report, y, probs, files))
    pngs = {}
    if report["task"] != "multilabel":
        confusion_png(report, out_dir / "confusion.png")
        pngs["confusion.png"] = (out_dir / "confusion.png").read_bytes()
    roc_png(report, y, probs, out_dir / "roc.png")
    pngs["roc.png"] = (out_dir / "roc.png").read_bytes()
    (out_dir / "report.html").write_text(html_report(report, pngs))
    return sorted(p.name for p in out_dir.iterdir())
