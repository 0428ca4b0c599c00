"""The ``edgecxr`` command line: parse, call one stage function, print.

Each stage has its own module here (data, train, quantize, ...) that adds its commands to
``app``; the work itself lives in the stage packages. Known errors (``EdgecxrError``,
``ImageError``), a mistyped option (a usage error) and a folder that is full, read-only or not
ours to write (``OSError`` of the FILESYSTEM_ERRORS kinds) become one ``error:`` line plus one
``hint:`` line on stderr and exit 2; set EDGECXR_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

# the command modules register their commands on `app` when imported
from edgecxr.cli import backbone, bench, calibrate, data, demo, evaluate, export, quantize, train, tune  # noqa: F401
from edgecxr.cli.root import app


def main() -> None:
    app()
