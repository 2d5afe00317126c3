"""Staging folders and the destination lock: what lets an export build beside its output and clean up after
itself without ever touching anything it did not create.

`.<name>.edgeslm-lock` beside the destination holds the owner's PID and the exact name of its staging folder
(`.<name>.partial-<pid>`). A second export to the same destination while the owner lives is refused; a lock
whose owner is gone (killed) is stale: its one recorded staging folder is removed, nothing else. No glob pattern
is ever built from the user's path.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

from edgeslm.errors import UserError


def lock_path(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.edgeslm-lock"


def stage_name(dest: Path, pid: int) -> str:
    return f".{dest.name}.partial-{pid}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_lock(dest: Path) -> dict | None:
    try:
        record = json.loads(lock_path(dest).read_text())
        return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else {"pid": -1}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": -1}  # unreadable: treated as stale, its staging folder unknown (so nothing is removed)


def live_owner(dest: Path) -> int | None:
    """The PID of a live export that holds dest's lock (None when free or stale)."""
    record = read_lock(dest)
    if record is None or record.get("host") not in (None, socket.gethostname()):
        return None if record is None else record["pid"]  # another host's lock: cannot tell, assume alive
    pid = record["pid"]
    return pid if pid > 0 and pid != os.getpid() and pid_alive(pid) else None


def refuse_if_busy(dest: Path) -> None:
    if (owner := live_owner(dest)) is not None:
        raise UserError(f"another edgeslm export (pid {owner}) is writing {dest}",
                        hint=f"Wait for it to finish, or choose another -o/--output. (Lock: {lock_path(dest)})")


def _clear_stale(dest: Path) -> None:
    """Remove a dead owner's lock and the one staging folder it recorded (if that folder is its own)."""
    record = read_lock(dest) or {}
    pid = record.get("pid", -1)
    if pid > 0 and record.get("stage") == stage_name(dest, pid):
        stale = dest.parent / record["stage"]
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    lock_path(dest).unlink(missing_ok=True)


def acquire(dest: Path) -> None:
    record = {"pid": os.getpid(), "host": socket.gethostname(), "stage": stage_name(dest, os.getpid()),
              "dest": str(dest)}
    for _attempt in range(2):
        refuse_if_busy(dest)
        try:
            fd = os.open(lock_path(dest), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            _clear_stale(dest)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        return
    refuse_if_busy(dest)
    raise UserError(f"could not take the lock {lock_path(dest)}", hint="Another export may have just started; retry.")


def release(dest: Path) -> None:
    record = read_lock(dest)
    if record is not None and record.get("pid") == os.getpid():
        lock_path(dest).unlink(missing_ok=True)


@contextmanager
def staging_folder(dest: Path):
    """Lock dest, yield a fresh staging folder beside it; on any failure remove that folder (and only it)."""
    dest = Path(os.path.abspath(dest))
    acquire(dest)
    stage = dest.parent / stage_name(dest, os.getpid())
    try:
        if stage.exists() or stage.is_symlink():  # our own PID's leftover from a reused PID is not provably ours
            raise UserError(f"{stage} already exists", hint="Remove it if it is an old edgeslm staging folder.")
        stage.mkdir()
        try:
            yield stage
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    finally:
        release(dest)
