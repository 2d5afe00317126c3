"""Stage progress on stderr (rich), with wall time per stage for the manifest."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.console import Console


class StageLog:
    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True, quiet=quiet)
        self.timings: dict[str, float] = {}
        self._status = None
        self._what = ""

    @contextmanager
    def stage(self, name: str, what: str):
        start = time.perf_counter()
        with self.console.status(f"[bold]{name}[/]: {what}", spinner="dots") as status:
            self._status, self._what = status, f"[bold]{name}[/]: {what}"
            try:
                yield
            finally:
                self._status = None
        seconds = time.perf_counter() - start
        self.timings[name] = round(seconds, 2)
        self.console.print(f"[green]✓[/] {name:<9} {what} [dim]({seconds:.1f} s)[/]")

    def progress(self, done: int, total: int, unit: str) -> None:
        """Within a long stage: `done` of `total` units finished (shown on the stage's status line)."""
        if self._status is not None:
            self._status.update(f"{self._what} [dim]({done}/{total} {unit})[/]")

    def note(self, text: str) -> None:
        self.console.print(f"  [yellow]![/] {text}")
