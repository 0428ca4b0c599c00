"""The project's exception types.

Every error a user can cause is an ``EdgecxrError``: the CLI prints its message and hint on
one line each and exits non-zero; anything else is a bug and keeps its traceback. ``EDGECXR_DEBUG=1`` (or true/yes/on) shows
tracebacks and TensorFlow's own logs; any other value (0, false, empty) leaves debug off.
"""

import os

DEBUG_VALUES = {"1", "true", "yes", "on"}


def debug_enabled() -> bool:
    """Whether EDGECXR_DEBUG asks for tracebacks and TensorFlow's logs (only 1/true/yes/on do)."""
    return os.environ.get("EDGECXR_DEBUG", "").strip().lower() in DEBUG_VALUES


class EdgecxrError(Exception):
    """A known, user-fixable problem: ``message`` says what is wrong, ``hint`` what to do."""

    exit_code = 2

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class DataError(EdgecxrError):
    """Bad or missing input data: unreadable images, empty classes, wrong layout."""


class ConfigError(EdgecxrError):
    """A bad option or config file value."""


class RunError(EdgecxrError):
    """A run directory that is missing, incomplete, or would be overwritten."""


class Interrupted(RunError):
    """Ctrl-C stopped a long stage; the hint says how to continue it (or start again)."""


class ModelError(EdgecxrError):
    """A model that cannot be built, converted, quantized or loaded."""


class DeviceError(EdgecxrError):
    """A device (board, SSH host, toolchain) that is unknown, unreachable or too small."""
