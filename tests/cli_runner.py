"""The whole CLI, in-process: every command registered, as `edgeslm` installs it."""

from __future__ import annotations

from click.testing import CliRunner

from edgeslm.cli.main import register_commands


def edgeslm(*args, env=None):
    """Invoke `edgeslm ARGS...` (click's CliRunner; exceptions propagate: an unexpected one fails the test)."""
    return CliRunner().invoke(register_commands(), [str(a) for a in args], env=env, catch_exceptions=False)
