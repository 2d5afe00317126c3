"""Silence an exporter's own chatter while it runs: stdout is for results (ARCHITECTURE.md convention 6)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings


@contextlib.contextmanager
def quiet_exporter(*logger_names: str, stderr: bool = False):
    """Raise the named loggers to ERROR, swallow stdout (and stderr with `stderr`, for tools that print progress
    bars there) and warnings (deprecations and notes about the exporter's internals, not about the user's model);
    everything is restored afterwards."""
    loggers = [logging.getLogger(n) for n in logger_names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                (contextlib.redirect_stderr(io.StringIO()) if stderr else contextlib.nullcontext()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
