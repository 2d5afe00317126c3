"""A named registry: duplicate names are errors, unknown names list the nearest ones."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from edgeslm.errors import InternalError, UserError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if near:
        return "Did you mean " + " or ".join(repr(n) for n in near) + "?"
    return "Choose one of: " + ", ".join(sorted(choices)) + "."


class Registry(Generic[T]):
    """Maps a key (an architecture's model_type, a target name, ...) to one entry."""

    def __init__(self, what: str, list_command: str | None = None):
        self.what = what
        self.list_command = list_command
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise InternalError(f"{self.what} {name!r} is registered twice",
                                hint="Each registry key must be unique; rename one of the entries.")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        def deco(entry: T) -> T:
            return self.add(name, entry)
        return deco

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            hint = did_you_mean(name, list(self._entries))
            if self.list_command:
                hint += f" `{self.list_command}` lists them all."
            raise UserError(f"unknown {self.what} {name!r}", hint=hint,
                            details={"known": sorted(self._entries)}) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._entries.items()))

    def __len__(self) -> int:
        return len(self._entries)
