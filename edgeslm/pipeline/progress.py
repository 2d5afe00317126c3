"""Stage progress on stderr (rich), with wall time per stage for the manifest."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.console import Console


class StageLog:
    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True, quiet=quiet)
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, what: str):
        start = time.perf_counter()
        with self.console.status(f"[bold]{name}[/]: {what}", spinner="dots"):
            yield
        seconds = time.perf_counter() - start
        self.timings[name] = round(seconds, 2)
        self.console.print(f"[green]✓[/] {name:<9} {what} [dim]({seconds:.1f} s)[/]")

    def note(self, text: str) -> None:
        self.console.print(f"  [yellow]![/] {text}")
