"""One exception family with distinct exit codes (ARCHITECTURE.md, convention 5).

Every error carries three parts: what failed, why (with the values), and how to fix it (the hint).
The CLI prints ``Error: <message>`` and ``Hint: <hint>`` and exits with the class's exit code.
"""

from __future__ import annotations


class EdgeSLMError(Exception):
    """Base of every error edgeslm raises on purpose."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, hint: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}

    def to_dict(self) -> dict:
        return {"kind": self.kind, "exit_code": self.exit_code, "message": self.message,
                "hint": self.hint, "details": self.details}


class UserError(EdgeSLMError):
    """Bad input: a missing path, an unknown name, a folder that is not a model, ..."""

    exit_code = 2
    kind = "user_error"


class UnsupportedError(EdgeSLMError):
    """A valid request the tool cannot do: an architecture, a quant for a format, a model too big."""

    exit_code = 3
    kind = "unsupported"


class VerificationError(EdgeSLMError):
    """The exported artifact's numbers drifted beyond the tolerance of its quant scheme."""

    exit_code = 4
    kind = "verification_failed"


class InternalError(EdgeSLMError):
    """A bug in edgeslm: an invariant broke. Please report it with --debug output."""

    exit_code = 70
    kind = "internal"


class HostEnvironmentError(EdgeSLMError):
    """The machine, not the input: the disk is full, a folder is read-only, a path cannot be written."""

    exit_code = 5
    kind = "environment"


# errno values that mean "this machine cannot do it" rather than "the input is wrong".
ENVIRONMENT_ERRNOS = {"ENOSPC", "EROFS", "EDQUOT", "EACCES", "EPERM", "EFBIG", "EMFILE", "ENFILE", "EIO"}


def environment_cause(exc: BaseException) -> OSError | None:
    """The OSError (disk full, read-only, ...) somewhere in exc's cause chain, if there is one.

    Libraries wrap I/O failures in their own errors (torch's stream writer, onnx's external-data writer), so the
    chain is walked, and torch's "No space left on device" message (a RuntimeError, no errno) is recognised too.
    """
    import errno

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno is not None and errno.errorcode.get(exc.errno) in ENVIRONMENT_ERRNOS:
            return exc
        if "No space left on device" in str(exc):
            return OSError(errno.ENOSPC, "No space left on device")
        exc = exc.__cause__ or exc.__context__
    return None


def as_environment_error(exc: BaseException) -> HostEnvironmentError | None:
    cause = environment_cause(exc)
    if cause is None:
        return None
    import errno
    import os

    name = errno.errorcode.get(cause.errno, "")
    where = f" ({cause.filename})" if getattr(cause, "filename", None) else ""
    hints = {"ENOSPC": "Free disk space (or choose an output on another disk) and run again.",
             "EDQUOT": "Your disk quota is used up: free space or choose another output folder.",
             "EROFS": "That file system is read-only: choose an output folder you can write to.",
             "EACCES": "You lack permission there: choose an output folder you can write to.",
             "EPERM": "The operation is not permitted there: choose another output folder.",
             "EFBIG": "The file system cannot hold a file that big: choose another output folder.",
             "EMFILE": "Too many open files: raise the limit (ulimit -n) and run again.",
             "ENFILE": "Too many open files on this machine: close some programs and run again.",
             "EIO": "The disk reported an I/O error: check the device."}
    return HostEnvironmentError(f"the machine could not complete the work: {os.strerror(cause.errno)}{where}",
                                hint=hints.get(name, "Check the disk and permissions, then run again."))
