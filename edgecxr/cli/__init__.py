"""The ``edgecxr`` command line: parse, call one stage function, print.

Each stage has its own module here (data, train, quantize, ...) that adds its commands to
``app``; the work itself lives in the stage packages. Known errors (``EdgecxrError``,
``ImageError``) become one ``error:`` line plus one ``hint:`` line on stderr and a non-zero
exit; set EDGECXR_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import os

import typer
from typer.core import TyperGroup

from edgecxr import __version__
from edgecxr.errors import EdgecxrError
from edgecxr.preprocess import ImageError


class _KnownErrorsGroup(TyperGroup):
    """Turns known errors into one line + hint, for the console script and CliRunner alike."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (EdgecxrError, ImageError) as e:
            if os.environ.get("EDGECXR_DEBUG"):
                raise
            typer.echo(f"error: {e}", err=True)
            hint = getattr(e, "hint", "") or ""
            typer.echo(f"hint: {hint + ('; ' if hint else '')}set EDGECXR_DEBUG=1 for the traceback", err=True)
            raise typer.Exit(getattr(e, "exit_code", 2)) from None


app = typer.Typer(
    cls=_KnownErrorsGroup,
    name="edgecxr",
    help="Chest X-ray folder -> small int8 classifier for microcontrollers and the Raspberry Pi. "
         "Not a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool):
    if value:
        typer.echo(f"edgecxr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
):
    """edgecxr: train, quantize, evaluate, bench and export chest X-ray classifiers."""


# Each module registers its commands on `app` (imported for that side effect).
from edgecxr.cli import backbone, bench, data, demo, evaluate, export, quantize, train, tune  # noqa: E402,F401


def main() -> None:
    app()
