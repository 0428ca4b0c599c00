"""The root ``edgecxr`` command: the Typer app every command module registers on, and the one
place where known errors become one ``error:`` line plus one ``hint:`` line (exit 2)."""

from __future__ import annotations

import errno
import warnings

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer's vendored click
from typer.core import TyperGroup

from edgecxr import __version__, tfenv  # tfenv before any stage: it sets TensorFlow's log level
from edgecxr.device.preprocess import ImageError
from edgecxr.device.spec import SpecError
from edgecxr.errors import EdgecxrError, debug_enabled

# errno -> what to do about it (a write that the disk, the mount or the permissions refused)
FILESYSTEM_ERRORS = {
    errno.ENOSPC: "free some disk space, or write to another folder (--out / --runs-root)",
    errno.EDQUOT: "free some of your disk quota, or write to another folder (--out / --runs-root)",
    errno.EFBIG: "write to a file system that takes larger files",
    errno.EROFS: "the folder is on a read-only file system: write to another one (--out / --runs-root)",
    errno.EACCES: "check the folder's permissions, or write to another folder (--out / --runs-root)",
    errno.EPERM: "check the folder's permissions, or write to another folder (--out / --runs-root)",
    errno.ENAMETOOLONG: "use a shorter name or folder",
    errno.EIO: "the disk reported an input/output error: check it, or write to another folder",
    errno.ENOTDIR: "a part of that path is a file, not a folder: choose another path",
    errno.EISDIR: "that path is a folder where a file is expected: choose another path",
    errno.EEXIST: "a file is in the way of a folder edgecxr needs there: choose another path",
}


def _one_line(text: str) -> str:
    """One printable line (a file name that is not UTF-8 shown with \\x escapes, not a crash)."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return " ".join(text.splitlines())


def _fail(message: str, hint: str, code: int = 2):
    """The one ``error:`` line and the one ``hint:`` line (newlines in either are joined)."""
    message, hint = _one_line(message), _one_line(hint)
    typer.echo(f"error: {message}", err=True)
    typer.echo(f"hint: {hint + ('; ' if hint else '')}set EDGECXR_DEBUG=1 for the traceback", err=True)
    raise typer.Exit(code) from None


class _KnownErrorsGroup(TyperGroup):
    """Turns known errors into one line + hint, for the console script and CliRunner alike."""

    def invoke(self, ctx):
        try:
            with warnings.catch_warnings():
                tfenv.quiet_python()
                return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except (EdgecxrError, ImageError, SpecError, UsageError, OSError) as e:
            if debug_enabled():
                raise
            if isinstance(e, UsageError):
                where = e.ctx.command_path if e.ctx else "edgecxr"
                _fail(" ".join(e.format_message().split()), f"see `{where} --help`")
            if isinstance(e, OSError):
                if e.errno not in FILESYSTEM_ERRORS:
                    raise
                _fail(f"{e.filename}: {e.strerror}" if e.filename else e.strerror or str(e), FILESYSTEM_ERRORS[e.errno])
            _fail(str(e), getattr(e, "hint", "") or "", getattr(e, "exit_code", 2))


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
