"""Pick the one device a profile runs on, from what adb or devicectl lists: by --serial, or the only one."""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from edgeslm.errors import UserError

D = TypeVar("D")


def choose_one(devices: Sequence[D], serial: str | None, *, matches: Callable[[D, str], bool],
               label: Callable[[D], str], noun: str, none: UserError, unknown_hint: str, many_hint: str) -> D:
    """The device `serial` names (`matches`), else the only device listed. `none` is raised when there is none;
    the other errors list what is there, each device as `label` writes it."""
    if serial is not None:
        found = [d for d in devices if matches(d, serial)]
        if not found:
            listed = ", ".join(map(label, devices)) or "none"
            raise UserError(f"no {noun} matches --serial {serial!r} (attached: {listed})", hint=unknown_hint)
        return found[0]
    if not devices:
        raise none
    if len(devices) > 1:
        raise UserError(f"{len(devices)} {noun}s are attached: {', '.join(map(label, devices))}", hint=many_hint)
    return devices[0]
