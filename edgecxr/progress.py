"""Progress bars on stderr (stdout stays clean for --json)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

T = TypeVar("T")
_console = Console(stderr=True)


def bar(description: str, transient: bool = False) -> Progress:
    """A rich Progress on stderr; use as a context manager and call ``add_task``."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                    console=_console, transient=transient, disable=not sys.stderr.isatty() and False)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar."""
    total = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
    with bar(description) as p:
        task = p.add_task(description, total=total, info="")
        for item in items:
            yield item
            p.advance(task)


def log(message: str) -> None:
    """A status line on stderr (one line: never wrapped at the terminal's width)."""
    _console.print(message, highlight=False, soft_wrap=True)
