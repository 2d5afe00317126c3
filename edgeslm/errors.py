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
