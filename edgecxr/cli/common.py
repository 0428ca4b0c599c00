"""Options shared by several commands, defined once, and the --json / table printer."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer


def flag(*names: str, help: str):
    """An on/off option shown as a flag (``--json``), not as ``--json <bool>``: it takes no value."""
    return typer.Option(*names, metavar="", help=help)


JsonOpt = Annotated[bool, flag("--json", help="Print one JSON object on stdout and nothing else.")]
ForceOpt = Annotated[bool, flag("--force", help="Replace an earlier output of the same command (never a run, "
                                                "another command's output or files it did not write).")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1,
                                      help="Random seed; the same seed gives the same result.")]
RunsRootOpt = Annotated[Path, typer.Option("--runs-root", help="Folder that holds the run directories.")]
RunArg = Annotated[str, typer.Argument(help="Run directory (path, or name under --runs-root).")]
# how to reach a device over SSH (bench --device rpi, deploy)
DevicesFileOpt = Annotated[Path | None, typer.Option("--devices-file", help="Target table TOML whose rows are added to "
                                                     "the shipped edgecxr/boards.toml (same name: yours).")]
PortOpt = Annotated[int | None, typer.Option("--port", min=1, max=65535, help="SSH port of the device.")]
IdentityOpt = Annotated[Path | None, typer.Option("--identity", help="SSH private key file.")]
SshConfigOpt = Annotated[Path | None, typer.Option("--ssh-config", help="SSH config file instead of ~/.ssh/config.")]


def emit(result: dict, as_json: bool, human: Callable[[dict], None]) -> None:
    """Print ``result`` as one JSON object (``--json``) or through ``human``."""
    if as_json:
        from edgecxr.files import json_default

        sys.stdout.write(json.dumps(result, default=json_default) + "\n")
    else:
        human(result)


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A plain fixed-width text table (copy-pastes into a README)."""
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "-"
    return str(v)
